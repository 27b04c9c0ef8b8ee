"""Routing rules (DESIGN.md section 4): each tenant's ordered list of "if the complaint looks like
this, propose that disposition".

``matching`` decides, in pure Python, whether a rule fits a complaint, so the same code serves
submission, verification and ``routingPreview`` and can be tested without a database.
``service`` keeps the rules in the tenant's ``routing_rule`` table: validated, ordered, audited.
"""
