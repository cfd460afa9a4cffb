"""Runs the README's reader examples against a catalog and checks that what they print, and the
README itself, match the committed expected output, so the README cannot drift.

    python tests/readers/check_examples.py [CATALOG] [--update] [--cli PATH/TO/ccxt-cli]

CATALOG defaults to catalog.example. Each example runs in an empty directory where `catalog` points
at CATALOG, exactly as the README shows it; the export examples first run the `ccxt-cli export`
commands of export_example.sh there (the ccxt-cli of --cli, default target/debug/ccxt-cli). For
each example it checks:
  * its output equals `<example>.out` (``--update`` rewrites the .out files instead);
  * README.md holds the example's code verbatim in a fenced block, and the .out text in a ```text block.
Needs pandas and pyarrow (pandas), polars (polars), duckdb (DuckDB) in the running interpreter.
Exits 1 on any difference, with a unified diff.
"""

import difflib
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# The `ccxt-cli export` commands the export examples read the output of; README.md shows them
# verbatim in a ```sh block. Run with the ccxt-cli of --cli (default target/debug/ccxt-cli) first
# on the PATH.
EXPORT_SETUP = "export_example.sh"

# (name, source file, fence language, command after the interpreter, setup script or None)
EXAMPLES = [
    ("pandas", "pandas_example.py", "python", ["pandas_example.py"], None),
    ("polars", "polars_example.py", "python", ["polars_example.py"], None),
    ("DuckDB", "duckdb_example.sql", "sql", ["run_duckdb.py", "duckdb_example.sql"], None),
    ("DuckDB export", "export_duckdb.sql", "sql", ["run_duckdb.py", "export_duckdb.sql"], EXPORT_SETUP),
    ("polars export", "export_polars.py", "python", ["export_polars.py"], EXPORT_SETUP),
    ("pandas export", "export_pandas.py", "python", ["export_pandas.py"], EXPORT_SETUP),
]


def run(args: list[str], catalog: str, setup: str | None = None, cli: str | None = None) -> str:
    with tempfile.TemporaryDirectory() as work:
        os.symlink(catalog, os.path.join(work, "catalog"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("POLARS_", "COLUMNS", "LINES", "CCXT_", "RUST_LOG"))}
        if setup is not None:
            shell_env = dict(env, PATH=os.path.dirname(os.path.abspath(cli)) + os.pathsep + env.get("PATH", ""))
            done = subprocess.run(["sh", os.path.join(HERE, setup)], cwd=work, env=shell_env, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{setup} failed ({done.returncode}):\n{done.stderr}")
        done = subprocess.run(
            [sys.executable, *[os.path.join(HERE, a) for a in args]],
            cwd=work, env=env, capture_output=True, text=True,
        )
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout.rstrip("\n") + "\n"


def diff(want: str, got: str, what: str) -> str:
    return "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), f"{what} (expected)", f"{what} (now)"))


def main() -> int:
    argv = sys.argv[1:]
    cli = os.path.join(ROOT, "target", "debug", "ccxt-cli")
    if "--cli" in argv:
        at = argv.index("--cli")
        cli = argv[at + 1]
        del argv[at:at + 2]
    args = [a for a in argv if a != "--update"]
    update = "--update" in argv
    catalog = os.path.abspath(args[0] if args else os.path.join(ROOT, "catalog.example"))
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    failed = False
    for name, source, fence, command, setup in EXAMPLES:
        out_path = os.path.join(HERE, os.path.splitext(source)[0] + ".out")
        got = run(command, catalog, setup, cli)
        if update:
            with open(out_path, "w", encoding="utf-8") as f:
                f.write(got)
        with open(out_path, encoding="utf-8") as f:
            want = f.read()
        with open(os.path.join(HERE, source), encoding="utf-8") as f:
            code = f.read()
        problems = []
        if got != want:
            problems.append(f"output differs from tests/readers/{os.path.basename(out_path)}:\n{diff(want, got, name)}")
        if f"```{fence}\n{code}```\n" not in readme:
            problems.append(f"README.md does not show tests/readers/{source} verbatim in a ```{fence} block")
        if setup is not None:
            with open(os.path.join(HERE, setup), encoding="utf-8") as f:
                if f"```sh\n{f.read()}```\n" not in readme:
                    problems.append(f"README.md does not show tests/readers/{setup} verbatim in a ```sh block")
        if f"```text\n{want}```\n" not in readme:
            problems.append(f"README.md does not show tests/readers/{os.path.basename(out_path)} verbatim in a ```text block")
        if problems:
            failed = True
            for p in problems:
                print(f"FAILED {name}: {p}")
        else:
            print(f"ok {name}: output and README match")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
