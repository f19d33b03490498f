"""Values a server writes in header fields: strict parsers that return None for garbage.

Server text reaches `int` and `float` only through these. They take ASCII digits alone
(`str.isdigit`, `int` and `float` also take `²`, `٣`, `1_0`, `inf` or `nan`) and never
turn thousands of digits into a number (`int` refuses over 4,300 digits).
"""

from __future__ import annotations

import calendar
import datetime
import re
import time

# A token (RFC 9110 5.6.2): a header field's name, a method, a cookie's name.
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_DIGITS = re.compile(r'[0-9]+', re.ASCII)
_DECIMAL = re.compile(r'[0-9]+(?:\.[0-9]+)?', re.ASCII)
# More significant digits than any length, count or time can need.
_MOST_DIGITS = 18

_DAYS = r'(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)'
_LONG_DAYS = r'(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)'
_MONTHS = ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec')
_MONTH = f'(?P<month>{"|".join(_MONTHS)})'
_TIME = r'(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})'
# The three forms of RFC 9110 5.6.7: IMF-fixdate, the obsolete RFC 850 form, and asctime.
_HTTP_DATES = [re.compile(pattern, re.ASCII | re.IGNORECASE) for pattern in (
    rf'{_DAYS}, (?P<day>[0-9]{{1,2}}) {_MONTH} (?P<year>[0-9]{{4}}) {_TIME} GMT',
    rf'{_LONG_DAYS}, (?P<day>[0-9]{{1,2}})-{_MONTH}-(?P<year>[0-9]{{2}}) {_TIME} GMT',
    rf'{_DAYS} {_MONTH} +(?P<day>[0-9]{{1,2}}) {_TIME} (?P<year>[0-9]{{4}})',
)]


def integer(text: str | None, most: int | None = None) -> int | None:
    """Return a non-negative integer written in ASCII digits (spaces around them allowed), else None.

    Args:
        text: the field value
        most: the greatest value wanted: a larger one (of any number of digits) gives `most`;
            without it, a value of more than 18 significant digits is garbage
    """
    digits = (text or '').strip(' \t')
    if not _DIGITS.fullmatch(digits):
        return None
    significant = digits.lstrip('0') or '0'
    if len(significant) > _MOST_DIGITS:
        return most
    value = int(significant)
    return value if most is None else min(value, most)


def number(text: str | None) -> float | None:
    """Return a non-negative decimal number (`30`, `1.5`) in ASCII digits, else None."""
    digits = (text or '').strip(' \t')
    if not _DECIMAL.fullmatch(digits) or len(digits.lstrip('0')) > _MOST_DIGITS * 2:
        return None
    return float(digits)


def http_date(text: str | None, now: float | None = None) -> float | None:
    """Return the Unix time of an HTTP-date in any of its three forms (RFC 9110 5.6.7), else None.

    `Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 08:49:37 GMT` and
    `Sun Nov  6 08:49:37 1994` are all read (as GMT); a two-digit year more than 50 years
    ahead of `now` (default: the clock) is the last such year in the past.
    """
    text = (text or '').strip(' \t')
    found = next((match for pattern in _HTTP_DATES if (match := pattern.fullmatch(text))), None)
    if found is None:
        return None
    year = int(found['year'])
    if len(found['year']) == 2:
        this_year = time.gmtime(time.time() if now is None else now).tm_year
        year += this_year - this_year % 100
        if year > this_year + 50:
            year -= 100
    month = [name.lower() for name in _MONTHS].index(found['month'].lower()) + 1
    second = min(int(found['second']), 59)  # a leap second is the second before it
    try:
        when = datetime.datetime(year, month, int(found['day']), int(found['hour']), int(found['minute']), second)
    except ValueError:  # 30 February, 25 o'clock
        return None
    return float(calendar.timegm(when.timetuple()))
