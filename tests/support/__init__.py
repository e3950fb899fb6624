"""Test helpers: a real Postgres, moto, and clients that call handlers with the events AWS sends."""
