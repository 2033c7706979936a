"""OpenPinpoint: a self-hosted server for the Amazon Pinpoint REST API (apps, endpoints,
users, templates, channels, messages, segments)."""

__version__ = "0.1.0"
