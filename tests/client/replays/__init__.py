"""Recorded Kestra 1.x/2.x HTTP responses and a tiny replay server for the client tests."""
