"""Webhooks for integrators (API.md, "Deployment gate and webhooks"): what a request to a
receiver is signed with (`signing`) and which receivers may be called at all
(`addresses`)."""
