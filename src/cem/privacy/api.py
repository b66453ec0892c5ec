"""Placeholder router; filled in by this domain's work."""

from fastapi import APIRouter

router = APIRouter()
