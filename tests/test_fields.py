"""Header field values: the strict parsers, and every reader of server text that goes through them."""

import calendar
import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from clients import downloads, fields, ratelimit, sse

NOW = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT
SAME_INSTANT = ['Tue, 14 Nov 2023 22:13:40 GMT', 'Tuesday, 14-Nov-23 22:13:40 GMT', 'Tue Nov 14 22:13:40 2023',
                'tue, 14 nov 2023 22:13:40 gmt', 'Tue, 14 Nov 2023 22:13:40 GMT ']
# Text that `str.isdigit`, `int` or `float` take and an HTTP field value must not mean a number by.
NOT_DIGITS = ['²', '٣', '1²', '1_0', '+1', '-1', ' ', '', '1 0', 'inf', 'nan', '1e3', '0x1', '\uff11', '1.', '.5', '\t']


@pytest.mark.parametrize('text', SAME_INSTANT)
def test_http_date_reads_all_three_forms(text):
    assert fields.http_date(text, NOW) == NOW + 20 == calendar.timegm((2023, 11, 14, 22, 13, 40))


@pytest.mark.parametrize(('text', 'year'), [
    ('Sunday, 06-Nov-94 08:49:37 GMT', 1994),  # more than 50 years ahead: the century before
    ('Sunday, 06-Nov-72 08:49:37 GMT', 2072),
    ('Sunday, 06-Nov-74 08:49:37 GMT', 1974),
    ('Sun Nov  6 08:49:37 1994', 1994),
    ('Sun Nov 6 08:49:37 1994', 1994),
    ('Sun, 6 Nov 1994 08:49:37 GMT', 1994),
])
def test_http_date_years(text, year):
    assert fields.http_date(text, NOW) == calendar.timegm((year, 11, 6, 8, 49, 37))


@pytest.mark.parametrize('text', [
    None, '', 'soon', '1700000000',
    'Tue, 14 Nov 2023 22:13:40 +0200', 'Tue, 14 Nov 2023 22:13:40', 'Tue, 30 Feb 2023 22:13:40 GMT',
    'Tue, 14 Nov 2023 25:13:40 GMT', 'Tue, 14 Nov 2023 22:13:40 UTC', 'Tue, 14 Foo 2023 22:13:40 GMT',
    'Tue, ٣ Nov 2023 22:13:40 GMT', 'Tue, 14 Nov 2023 22:13:40 GMT\nX', 'Tue Nov 14 22:13:40 2023 GMT',
])
def test_http_date_garbage(text):
    assert fields.http_date(text, NOW) is None


def test_http_date_leap_second_and_default_clock():
    assert fields.http_date('Sat, 31 Dec 2016 23:59:60 GMT') == calendar.timegm((2016, 12, 31, 23, 59, 59))
    assert fields.http_date('Sunday, 06-Nov-94 08:49:37 GMT') == calendar.timegm((1994, 11, 6, 8, 49, 37))


def test_integer_and_number():
    assert fields.integer(' 042\t') == 42
    assert fields.integer('9' * 18) == int('9' * 18)
    assert fields.integer('0' * 5000 + '7') == 7
    assert fields.integer('9' * 19) is None
    assert fields.integer('9' * 5000, most=10) == 10
    assert fields.integer('11', most=10) == 10
    assert fields.number('1.5') == 1.5
    assert fields.number('30') == 30.0
    assert fields.number('9' * 5000) is None


@pytest.mark.parametrize('text', NOT_DIGITS)
def test_what_is_not_a_number(text):
    assert fields.integer(text) is None
    assert fields.integer(text, most=10) is None
    assert fields.number(text) is None


@given(st.text())
def test_any_text_is_a_value_or_none(text):
    for value in (fields.integer(text), fields.integer(text, most=5), fields.number(text), fields.http_date(text)):
        assert value is None or value >= 0


@given(st.integers(min_value=0, max_value=10**18 - 1))
def test_digits_are_their_integer(value):
    assert fields.integer(str(value)) == value
    assert fields.number(str(value)) == float(value)


@given(st.integers(min_value=-2**35, max_value=2**35))
def test_http_dates_round_trip(seconds):
    assert fields.http_date(email.utils.formatdate(seconds, usegmt=True), NOW) == seconds


# Every reader of a server's value: on any text, the value it means or None, never an exception.
@given(st.text())
def test_retry_after_reads_any_text(text):
    wait = ratelimit.retry_after(text, NOW)
    assert wait is None or wait >= 0


@pytest.mark.parametrize('text', [*NOT_DIGITS, '9' * 5000])
def test_retry_after_garbage_and_huge(text):
    assert ratelimit.retry_after(text, NOW) == (None if text != '9' * 5000 else float(ratelimit._FOREVER))


@pytest.mark.parametrize('text', SAME_INSTANT)
def test_retry_after_and_reset_read_every_http_date(text):
    assert ratelimit.retry_after(text, NOW) == 20
    headers = CaseInsensitiveDict({'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': text})
    assert ratelimit.spent(200, headers, NOW) == 20


@given(st.sampled_from(['Retry-After', 'RateLimit', 'RateLimit-Remaining', 'RateLimit-Reset',
                        'X-RateLimit-Remaining', 'X-RateLimit-Reset']),
       st.text(), st.sampled_from([200, 429, 503]))
def test_rate_limit_headers_read_any_text(name, text, status):
    headers = CaseInsensitiveDict({'X-RateLimit-Remaining': '0', 'RateLimit-Remaining': '0', name: text})
    wait = ratelimit.spent(status, headers, NOW)
    assert wait is None or wait >= 0


@pytest.mark.parametrize('text', NOT_DIGITS)
def test_rate_limit_numbers_are_ascii_digits(text):
    assert ratelimit.spent(200, CaseInsensitiveDict({'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': text}),
                           NOW) is None
    assert ratelimit.spent(200, CaseInsensitiveDict({'X-RateLimit-Remaining': text, 'X-RateLimit-Reset': '5'}),
                           NOW) is None


@given(st.text())
def test_content_range_reads_any_text(text):
    for header in (text, f'bytes {text}', f'bytes 0-{text}/10', f'bytes 0-1/{text}', f'bytes */{text}'):
        found = downloads.content_range(header)
        assert found is None or all(value is None or value >= 0 for value in found)


@pytest.mark.parametrize('header', [
    'bytes ٣-5/10', 'bytes 0-²/10', 'bytes 0-1/' + '9' * 5000, f'bytes {"9" * 5000}-{"9" * 5001}/*',
    'bytes */' + '9' * 30,
])
def test_content_range_garbage(header):
    assert downloads.content_range(header) is None


def test_sse_retry_of_any_length():
    parser = sse.Parser()
    assert parser.feed([b'retry: ' + b'9' * 5000, b'data: x', b'']) == [sse.Event('x', retry=sse.MAX_RETRY)]
    assert parser.retry == sse.MAX_RETRY
    assert parser.feed([b'retry: 1\xc2\xb2', b'retry: +1', b'data: y', b'']) == [sse.Event('y')]
    assert parser.retry == sse.MAX_RETRY


@given(st.text())
def test_sse_reads_any_retry(text):
    parser = sse.Parser()
    events = parser.feed([('retry:' + text).encode('utf-8', 'surrogatepass'), b'data: x', b''])
    assert len(events) == 1
    assert parser.retry is None or 0 <= parser.retry <= sse.MAX_RETRY
