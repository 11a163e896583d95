"""The database: schema, engines, migrations, and the queries and writes over them (PostGIS)."""
