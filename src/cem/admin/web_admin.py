"""Admin pages (placeholder until built)."""

from fastapi import APIRouter

router = APIRouter()
