"""The upload page in Chromium: drop files, upload with progress, preview, mapping, import."""

from __future__ import annotations

import re
import time

import pytest

from review.services import import_io
from review.services import imports as service
from tests.conftest import PASSWORD, shared_data
from tests.factories import make_project, make_user
from tests.imports.conftest import ris_records_in, stored

pytestmark = pytest.mark.browser


def _many_records(text: str, n: int) -> str:
    """n records: the real sample's records repeated, each title made unique."""
    blocks = [b.strip("\n") + "\nER  - \n" for b in re.split(r"(?m)^ER  -.*$", text)
              if "TY  - " in b]
    out = []
    for i in range(n):
        block = blocks[i % len(blocks)]
        out.append(re.sub(r"(?m)^TI  - (.*)$", rf"TI  - \1 ({i})", block, count=1))
    return "\n".join(out)


def test_drop_upload_preview_fix_mapping_import(live_server, browser_page, sign_in, tmp_path,
                                                monkeypatch) -> None:
    with live_server.session() as session:
        lead = make_user(session)
        project = make_project(session, lead=lead)
        session.commit()
    ris = shared_data("formats", "ris", "asreview__pubmed_zotero.ris")
    csv = shared_data("formats", "csv", "asreview__generic.csv")
    big = tmp_path / "big.ris"
    n_big = 4000
    big.write_text(_many_records(ris.read_text(encoding="utf-8-sig"), n_big))
    monkeypatch.setattr(import_io, "CHUNK", 200)  # many progress steps for the bar to show
    parse = service.importers.parse

    def slow_parse(*args, **kwargs):
        time.sleep(1.5)  # as a large file would take: the progress bar must show meanwhile
        return parse(*args, **kwargs)
    page = browser_page
    page.set_default_timeout(90_000)  # several thousand records on a busy 2-core machine
    sign_in(page, lead.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.id}/imports/")

    # Dropping a file on the zone puts it in the file input.
    page.evaluate("""(text) => {
        const dt = new DataTransfer();
        dt.items.add(new File([text], "dropped.ris", {type: "text/plain"}));
        document.querySelector("[data-dropzone]").dispatchEvent(
            new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""", ris.read_text(encoding="utf-8-sig"))
    assert "dropped.ris" in page.locator("[data-chosen]").inner_text()
    assert page.evaluate("document.querySelector('[data-files]').files.length") == 1

    page.set_input_files("[data-files]", [str(big), str(csv)])
    page.fill("input[name=source]", "Embase")
    page.click("text=Upload and preview")
    page.wait_for_url("**/staged/*", timeout=60_000)
    assert f"{n_big}</strong> records" in page.content()
    # The CSV's title column really holds the abstracts: swap them and preview again.
    page.select_option("select[aria-label='Field for column title']", "abstract")
    page.select_option("select[aria-label='Field for column abstract']", "title")
    page.click("button[value=preview]")
    page.wait_for_load_state()
    assert page.locator("select[aria-label='Field for column title']").input_value() == \
        "abstract"
    assert "BACKGROUND: Lorem" in page.locator("#file-1 table.records").inner_text()

    polls: list[int] = []
    page.on("response", lambda r: polls.append(r.status) if r.url.endswith("/progress")
            else None)
    monkeypatch.setattr(service.importers, "parse", slow_parse)
    page.click("button[value=import]")
    page.wait_for_url("**/report", timeout=120_000)
    imported = [int(t) for t in page.locator("[data-count=imported]").all_inner_texts()]
    assert imported == [n_big, 2]
    # The page polled the import's progress while the server worked (1.5 s at least).
    assert len(polls) >= 2 and set(polls) == {200}, polls
    with live_server.session() as session:
        assert stored(session, project.id)["records"] == n_big + 2
    assert ris_records_in(big.read_text()) == n_big
