"""The import pages: upload, preview with column mapping, import, report, batches, errors."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import sqlalchemy as sa

from review.models import Record
from tests.conftest import Auth, shared_data
from tests.imports.conftest import ris_records_in, stored

RIS = ("formats", "ris", "asreview__pubmed_zotero.ris")
BROKEN = b"TY  - JOUR\nPY  - 2020\nER  - \n"


def _base(team) -> str:
    return f"/projects/{team.project.id}/imports"


def _upload(auth, team, *files, source="PubMed", kind="database"):
    data = {"source": source, "source_kind": kind,
            "files": [(io.BytesIO(content), name) for name, content in files]}
    return auth.post(f"{_base(team)}/upload", data, content_type="multipart/form-data")


def _selected(page: str, name: str) -> str:
    """The option a select of the page has selected ("" when none)."""
    block = re.search(rf'name="{name}"[^>]*>(.*?)</select>', page, re.S).group(1)
    chosen = re.search(r'value="([^"]*)" selected', block)
    return chosen.group(1) if chosen else ""


def _staged_url(response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response.headers["Location"]


def test_upload_preview_import_report(client, auth, team, session, app) -> None:
    path = shared_data(*RIS)
    auth.login(team.lead.email)
    url = _staged_url(_upload(auth, team, (path.name, path.read_bytes())))
    token = url.rstrip("/").rsplit("/", 1)[-1]
    kept = Path(app.instance_path) / "uploads" / hashlib.sha256(path.read_bytes()).hexdigest()
    assert kept.read_bytes() == path.read_bytes()  # kept on disk between the steps
    page = client.get(url).get_data(as_text=True)
    n = ris_records_in(path.read_text(encoding="utf-8-sig"))
    assert f"<strong>{n}</strong> records" in page
    assert "The importance of cognitive flexibility" in page
    assert stored(session, team.project.id)["records"] == 0  # the preview stores nothing
    done = auth.post(url, {"action": "import"})
    assert done.status_code == 303 and done.headers["Location"].endswith(f"{token}/report")
    report = client.get(done.headers["Location"]).get_data(as_text=True)
    assert f'data-count="imported">{n}<' in report and "PubMed" in report
    assert stored(session, team.project.id)["records"] == n
    listing = client.get(f"{_base(team)}/").get_data(as_text=True)
    assert path.name in listing and team.lead.name in listing


def test_several_files_at_once_and_csv_mapping_fixed_by_the_user(client, auth, team,
                                                                  session) -> None:
    ris, csv = shared_data(*RIS), shared_data("formats", "csv", "asreview__generic.csv")
    auth.login(team.reviewer.email)
    url = _staged_url(_upload(auth, team, (ris.name, ris.read_bytes()),
                              (csv.name, csv.read_bytes()), source="Zotero", kind="other"))
    page = client.get(url).get_data(as_text=True)
    columns = re.findall(r'name="map-1-(\d+)" aria-label="Field for column ([^"]+)"', page)
    assert columns, "the CSV's columns get a select each"
    form = {"action": "import"}
    for j, column in columns:
        # The user says: this file's "title" column holds the abstracts and vice versa.
        current = _selected(page, f"map-1-{j}")
        form[f"map-1-{j}"] = {"title": "abstract", "abstract": "title"}.get(column, current)
    done = auth.post(url, form)
    assert done.status_code == 303, done.get_data(as_text=True)[:800]
    session.expire_all()
    csv_records = session.scalars(sa.select(Record).where(Record.locator.like("row %"))).all()
    assert csv_records and all(r.title and r.title.startswith("BACKGROUND") for r in csv_records)
    assert stored(session, team.project.id)["batches"] == 2


def test_bad_file_is_refused_with_file_line_and_reason(client, auth, team, session) -> None:
    good = shared_data(*RIS).read_text(encoding="utf-8-sig")
    bad = (good + "\n" + BROKEN.decode()).encode()
    line = len((good + "\n").splitlines()) + 1
    auth.login(team.lead.email)
    url = _staged_url(_upload(auth, team, ("good.ris", good.encode()), ("bad.ris", bad)))
    assert "cannot be read" in client.get(url).get_data(as_text=True)
    refused = auth.post(url, {"action": "import"})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert f"bad.ris, line {line}: no title, author, abstract or DOI" in body
    assert stored(session, team.project.id) == {"records": 0, "batches": 0, "sources": 0,
                                                 "events": 0}
    skipped = auth.post(url, {"action": "import", "skip_invalid": "1"})
    report = client.get(skipped.headers["Location"]).get_data(as_text=True)
    assert f"line {line}" in report and "no title, author, abstract or DOI" in report
    assert stored(session, team.project.id)["records"] == 2 * ris_records_in(good)


def test_reupload_is_refused_then_forced(client, auth, team, session) -> None:
    data = shared_data(*RIS).read_bytes()
    auth.login(team.lead.email)
    first = _staged_url(_upload(auth, team, ("a.ris", data)))
    auth.post(first, {"action": "import"})
    second = _staged_url(_upload(auth, team, ("again.ris", data)))
    refused = auth.post(second, {"action": "import"})
    assert refused.status_code == 422 and "already imported as batch" in \
        refused.get_data(as_text=True)
    forced = auth.post(second, {"action": "import", "force": "1"})
    assert forced.status_code == 303
    assert stored(session, team.project.id)["batches"] == 2


def test_unreadable_upload_shows_the_reason_in_the_preview(client, auth, team) -> None:
    auth.login(team.lead.email)
    url = _staged_url(_upload(auth, team, ("notes.txt", b"nothing to see here\n")))
    assert "notes.txt, line 1: unknown format" in client.get(url).get_data(as_text=True)


def test_upload_without_files_or_source_is_a_form_error(client, auth, team) -> None:
    auth.login(team.lead.email)
    response = auth.post(f"{_base(team)}/upload", {"source": "X"},
                         content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose at least one file" in \
        response.get_data(as_text=True)


def test_viewers_cannot_upload_or_import(app, auth, team, session) -> None:
    data = shared_data(*RIS).read_bytes()
    auth.login(team.lead.email)
    url = _staged_url(_upload(auth, team, ("a.ris", data)))
    client = app.test_client()
    viewer = Auth(client)
    viewer.login(team.viewer.email)
    assert _upload(viewer, team, ("a.ris", data)).status_code == 403
    assert viewer.post(url, {"action": "import"}).status_code == 403
    assert client.get(f"{_base(team)}/").status_code == 200
    assert "Upload search exports" not in client.get(f"{_base(team)}/").get_data(as_text=True)
    assert stored(session, team.project.id)["records"] == 0


def test_progress_endpoint_and_batch_page(client, auth, team) -> None:
    data = shared_data(*RIS).read_bytes()
    auth.login(team.lead.email)
    url = _staged_url(_upload(auth, team, ("a.ris", data)))
    assert client.get(f"{url}/progress").get_json() == {"file": 0, "files": 0, "done": 0,
                                                        "total": 0}
    auth.post(url, {"action": "import"})
    listing = client.get(f"{_base(team)}/").get_data(as_text=True)
    batch_url = re.search(r'href="([^"]+/batches/\d+)"', listing).group(1)
    assert "a.ris" in client.get(batch_url).get_data(as_text=True)
    assert client.get(f"{_base(team)}/staged/{'0' * 32}").status_code == 404
