"""Pages of this domain (placeholder until built)."""

from fastapi import APIRouter

router = APIRouter()
