"""Platform machinery shared by every tenant: settings wiring, database engines, migrations, app."""
