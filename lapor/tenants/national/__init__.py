"""The national views: figures, ranking and complaint location across tenants, read from the
PII-free national index in ``public`` (DESIGN.md section 5), every call audited."""
