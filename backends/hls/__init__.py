"""Vitis HLS C++ backend (later issue)."""
