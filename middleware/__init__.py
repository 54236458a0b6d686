"""Reusable WSGI/Flask pieces that know nothing of this app's models."""
