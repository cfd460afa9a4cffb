"""Runs the statements of a .sql file with DuckDB's Python package and prints each result as the
DuckDB CLI does (boxes, column types), a blank line after each.

    python tests/readers/run_duckdb.py tests/readers/duckdb_example.sql   # in a dir with catalog/
"""

import sys

import duckdb


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        statements = duckdb.extract_statements(f.read())
    con = duckdb.connect()
    for statement in statements:
        con.sql(statement.query).show(max_width=200)  # each table ends with a blank line
    return 0


if __name__ == "__main__":
    sys.exit(main())
