"""Screening under load: 20 reviewers over HTTP against `sieve serve` on 10,000 records.

Builds a fresh SQLite database (migrations), 10,000 records (the bundled demo CSV repeated, with
a random rank), a lead and 20 reviewers; starts `sieve serve` as a subprocess on a loopback
port; then 20 threads sign in and screen as a browser does: GET the next record (the htmx
fragment), POST the decision (the plain form, answered 303), repeat. Bounded by --decisions per
reviewer and --seconds overall. Prints p50/p95/max of both requests, the server
process's CPU seconds per request (from /proc, sign-ins left out) and the load average, and
checks that every decision answered 303 is stored exactly once and no record is over its quota.

Run:  .venv/bin/python bench/screening_load.py [--reviewers 20] [--decisions 25]
      [--predecided 0.0] [--think 0.0] [--seconds 300] [--json out.json]
``--predecided 0.6`` first stores two decisions on 60% of the records (late in screening:
the next-record query must pass over finished records).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import http.client
import io
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from argon2 import PasswordHasher  # noqa: E402
from argon2.profiles import CHEAPEST  # noqa: E402

from review import migrate  # noqa: E402
from review.db import make_engine, make_sessionmaker  # noqa: E402
from review.models import Decision, Membership, Record  # noqa: E402
from review.services import projects as project_service  # noqa: E402
from review.services import users as user_service  # noqa: E402

PASSWORD = "bench password 1"
N_RECORDS = 10_000
RECORD_RE = re.compile(r'data-record="(\d+)"')
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def seed(url: str, n_reviewers: int, predecided: float) -> tuple[int, list[str]]:
    """Create the project, accounts and records; returns the project id and reviewer emails."""
    # Cheap Argon2 parameters for the bench accounts (hashes carry their own parameters).
    user_service._hasher = PasswordHasher.from_parameters(CHEAPEST)
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        lead = user_service.create_user(session, email="lead@bench.example", name="Lead",
                                        password=PASSWORD)
        project = project_service.create_project(session, title="Load", lead_id=lead.id)
        emails = []
        for i in range(n_reviewers):
            user = user_service.create_user(session, email=f"r{i}@bench.example", name=f"R{i}",
                                            password=PASSWORD)
            session.add(Membership(project_id=project.id, user_id=user.id, role="reviewer"))
            emails.append(user.email)
        session.flush()
        rows = _demo_rows()
        ranks = list(range(1, N_RECORDS + 1))
        random.Random(1).shuffle(ranks)
        session.execute(sa.insert(Record), [
            {"project_id": project.id, "title": f"{row['title']} [{i // len(rows)}]",
             "abstract": row["abstract"], "authors": [], "keywords": [], "raw": {},
             "rank": ranks[i]}
            for i, row in ((i, rows[i % len(rows)]) for i in range(N_RECORDS))])
        if predecided:
            _predecide(session, project.id, predecided)
        session.commit()
        pid = project.id
    engine.dispose()
    return pid, emails


def _demo_rows() -> list[dict[str, str]]:
    data = files("review.demo_data").joinpath("nagtegaal_2019.csv.gz").read_bytes()
    return list(csv.DictReader(io.StringIO(gzip.decompress(data).decode("utf-8"))))


def _predecide(session, project_id: int, share: float) -> None:
    """Two decisions (by two accounts outside the bench) on the best-ranked share of records."""
    pre = [user_service.create_user(session, email=f"pre{i}@bench.example", name=f"Pre {i}",
                                    password=PASSWORD) for i in (1, 2)]
    session.add_all(Membership(project_id=project_id, user_id=u.id, role="reviewer")
                    for u in pre)
    ids = session.scalars(sa.select(Record.id).where(Record.project_id == project_id)
                          .order_by(Record.rank).limit(int(share * N_RECORDS))).all()
    session.execute(sa.insert(Decision), [
        {"project_id": project_id, "record_id": rid, "stage": "title_abstract",
         "reviewer_id": pre[slot - 1].id, "slot": slot, "label": "include"}
        for rid in ids for slot in (1, 2)])


class Browser:
    """A keep-alive HTTP connection with a cookie jar: one reviewer."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None,
                headers: dict | None = None) -> tuple[int, str, float]:
        """Send one request; returns status, body and seconds taken."""
        head = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        head.update(headers or {})
        body = None
        if form is not None:
            body = urlencode(form)
            head["Content-Type"] = "application/x-www-form-urlencoded"
        start = time.perf_counter()
        self.conn.request(method, path, body=body, headers=head)
        response = self.conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        elapsed = time.perf_counter() - start
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        return response.status, text, elapsed


def reviewer(port: int, pid: int, email: str, n: int, deadline: float, think: float,
             out: dict, ready: threading.Barrier) -> None:
    """Sign in, wait for the others, then screen up to ``n`` records; record timings."""
    rng = random.Random(email)
    b = Browser(port)
    _, page, _ = b.request("GET", "/login")
    token = CSRF_RE.search(page).group(1)
    status, _, _ = b.request("POST", "/login", {"email": email, "password": PASSWORD,
                                                "csrf_token": token})
    assert status == 303, f"sign-in failed for {email}: {status}"
    ready.wait()  # the server's CPU is counted from here, without the sign-ins
    # Reviewers start at different moments (as if each was already reading a record), not
    # all within the same millisecond after the barrier.
    time.sleep(rng.uniform(0, 2 * think))
    screen = f"/projects/{pid}/screening/"
    while len(out["stored"]) < n and time.monotonic() < deadline:
        status, fragment, t_get = b.request("GET", screen, headers={"HX-Request": "true"})
        out["get"].append(t_get)
        match = RECORD_RE.search(fragment)
        if status != 200 or match is None:
            out["empty"] += 1
            break
        record_id = int(match.group(1))
        time.sleep(rng.uniform(0, 2 * think))  # reading the abstract
        label = rng.choice(("include", "exclude", "exclude", "maybe"))
        status, _, t_post = b.request("POST", f"{screen}decide", {
            "record_id": record_id, "label": label, "stage": "title_abstract",
            "csrf_token": CSRF_RE.search(fragment).group(1)})
        out["post"].append(t_post)
        if status == 303:
            out["stored"].append(record_id)
        elif status == 409:
            out["refused"] += 1  # the record filled up meanwhile: said so, nothing stored
        else:
            out["errors"].append(status)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, port: int, instance: Path) -> subprocess.Popen:
    """`sieve serve` on a loopback port; returns once it answers."""
    env = {**os.environ, "SIEVE_INSTANCE": str(instance), "DATABASE_URL": url}
    # The server's own output goes to a file: an unread pipe would fill up and stall it.
    log = (instance / "serve.log").open("wb")
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "sieve"), "serve", "--port", str(port),
                             "--no-jobs", "--threads", "8"], env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError((instance / "serve.log").read_text()) from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("sieve serve did not start")


def check(url: str, pid: int, results: dict[str, dict]) -> dict[str, int]:
    """Every 303 is one stored decision, nothing else was stored; no record over its quota."""
    engine = make_engine(url)
    with make_sessionmaker(engine, write=False)() as session:
        ids = dict(session.execute(sa.text("SELECT email, id FROM users")).all())
        bench_ids = {ids[email] for email in results}
        rows = [(r, u) for r, u in session.execute(
            sa.select(Decision.record_id, Decision.reviewer_id)
            .where(Decision.project_id == pid)).all() if u in bench_ids]
        over = session.scalar(sa.text(
            "SELECT count(*) FROM (SELECT record_id FROM decisions WHERE stage='title_abstract' "
            "GROUP BY record_id HAVING count(*) > 2) AS t"))
    engine.dispose()
    answered = [(rid, ids[email]) for email, out in results.items() for rid in out["stored"]]
    return {"answered_303": len(answered), "stored": len(rows),
            "lost": len(set(answered) - set(rows)),
            "stored_without_303": len(set(rows) - set(answered)),
            "doubled": len(answered) - len(set(answered)),
            "records_over_quota": int(over or 0)}


def pct(values: list[float], q: float) -> float:
    """Percentile in milliseconds."""
    if not values:
        return float("nan")
    return 1000 * statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    """Run the load and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--decisions", type=int, default=25, help="per reviewer")
    parser.add_argument("--predecided", type=float, default=0.0)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds a reviewer reads before deciding (uniform 0..2x)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'load.db'}"
        t0 = time.perf_counter()
        pid, emails = seed(url, args.reviewers, args.predecided)
        print(f"seeded {N_RECORDS} records, {args.reviewers} reviewers "
              f"in {time.perf_counter() - t0:.1f} s")
        port = free_port()
        server = start_server(url, port, Path(tmp))
        results = {e: {"get": [], "post": [], "stored": [], "refused": 0, "empty": 0,
                       "errors": []} for e in emails}
        deadline = time.monotonic() + args.seconds
        ready = threading.Barrier(len(emails) + 1)
        try:
            threads = [threading.Thread(target=reviewer, args=(
                port, pid, e, args.decisions, deadline, args.think, results[e], ready))
                for e in emails]
            for t in threads:
                t.start()
            ready.wait(timeout=300)
            t0, cpu0, load0 = time.perf_counter(), cpu_seconds(server.pid), os.getloadavg()
            for t in threads:
                t.join()
            cpu = cpu_seconds(server.pid) - cpu0
        finally:
            server.terminate()
            server.wait(timeout=30)
            errors = (Path(tmp) / "serve.log").read_text(errors="replace")
            if "Traceback" in errors:
                print("server errors (tail):", errors[-3000:], file=sys.stderr)
        wall = time.perf_counter() - t0
        figures = summarise(results, wall, cpu, check(url, pid, results), args)
        figures["load_avg_at_start"] = [round(x, 2) for x in load0]
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


def summarise(results: dict, wall: float, cpu: float, final: dict,
              args: argparse.Namespace) -> dict:
    """The figures to print and keep."""
    gets = [t for r in results.values() for t in r["get"]]
    posts = [t for r in results.values() for t in r["post"]]
    return {
        "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
        "reviewers": args.reviewers, "records": N_RECORDS, "predecided": args.predecided,
        "think_s": args.think, "decisions_per_reviewer": args.decisions,
        "get_next_ms": {"n": len(gets), "p50": round(pct(gets, 50), 1),
                        "p95": round(pct(gets, 95), 1), "max": round(1000 * max(gets), 1)},
        "post_decision_ms": {"n": len(posts), "p50": round(pct(posts, 50), 1),
                             "p95": round(pct(posts, 95), 1), "max": round(1000 * max(posts), 1)},
        "refused_409": sum(r["refused"] for r in results.values()),
        "errors": [s for r in results.values() for s in r["errors"]],
        "wall_s": round(wall, 1), "decisions_per_s": round(len(posts) / wall, 1),
        "server_cpu_s": round(cpu, 2),
        "server_cpu_ms_per_request": round(1000 * cpu / max(1, len(gets) + len(posts)), 1),
        "check": final,
    }


if __name__ == "__main__":
    main()
