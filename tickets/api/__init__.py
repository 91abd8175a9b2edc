"""The REST API for integrators (API.md): a thin translator around the service layer.

Serializers check the shape of input; the services in `tickets.services` decide; the one
exception handler in `errors.py` turns their `DomainError`s into HTTP answers. Every object
is fetched through the selectors, so another organisation's object is a 404.
"""
