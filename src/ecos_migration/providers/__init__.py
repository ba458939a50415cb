"""Adapters to the parties outside the product: the service providers and the devices."""
