"""The test kit (`clients.testing`): routes, answers and errors over every shell and transport."""
