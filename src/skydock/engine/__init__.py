"""The query engine: catalogs on disk, SQL/ADQL translation, validation, execution, formats.

Runs inside a server process or a worker; imports no web framework and no ORM.
"""
