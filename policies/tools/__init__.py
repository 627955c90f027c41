"""Maintenance scripts of the policy pack (not loaded by the pack or the gate)."""
