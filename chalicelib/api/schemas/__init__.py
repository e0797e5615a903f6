"""Request/response models (pydantic v2), one module per route module `chalicelib/api/<area>.py`; the bases and
field types they share are in `common`. The OpenAPI document is generated from these and api.routing.REGISTRY.
"""
