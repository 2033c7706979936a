"""OpenPinpoint: a self-hosted server for the Amazon Pinpoint REST API (apps, endpoints, users)."""

__version__ = "0.1.0"
