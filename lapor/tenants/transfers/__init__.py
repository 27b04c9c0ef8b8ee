"""Moving complaints between tenants: the transfer service, its ledger, and cross-tenant tracking.

The only code allowed to act in two tenants within one transaction (DESIGN.md section 5).
"""
