"""Document grounding: chunking with overlap, attachment to entities, PDF reading, located errors,
and chunks carried into seed prompts and records' provenance."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from conftest import SAMPLES, read_jsonl
from janus_plugins.erdiagram.parser import parse_erdiagram
from servers import ProviderServer

from janus_core.plan.documents import Documents, chunk_text, entity_patterns
from janus_core.sdk.errors import SpecError
from janus_core.spec.model import load_spec

DIAGRAM = parse_erdiagram("""erDiagram
    PATIENT ||--o{ APPOINTMENT : "asks for"
    MEDICAL_RECORD }o--|| PATIENT : describes
""", "d.mermaid")


def write_pdf(path, objects: list[bytes]) -> None:
    """A PDF file of ``objects`` (numbered from 1, the first the catalog) with its cross-reference table."""
    out, offsets = b"%PDF-1.4\n", []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(out)


def make_pdf(path, lines: list[str]) -> None:
    """A one-page PDF with these lines of text (Helvetica), written by hand so no PDF writer is needed."""
    body = " ".join(f"({line}) Tj 0 -16 Td" for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td {body} ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    write_pdf(path, objects)


def shared_stream_pdf(path, pages: int, lines: int, filters: bool = True) -> int:
    """A PDF whose pages all draw one content stream of ``lines`` lines of text, compressed (so a
    small file expands to ``pages`` times its content when read naively); returns the content's size."""
    import zlib

    line = b"(" + b"Every patient may move an appointment. " * 2 + b") Tj T* "
    content = b"BT /F1 12 Tf 14 TL 72 720 Td " + line * lines + b"ET"
    stream = zlib.compress(content, 9) if filters else content
    kids = " ".join(f"{4 + i} 0 R" for i in range(pages)).encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
               b"<< /Length %d%s >>\nstream\n" % (len(stream), b" /Filter /FlateDecode" if filters else b"")
               + stream + b"\nendstream"]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R "
                b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (4 + pages)] * pages
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    write_pdf(path, objects)
    return len(content)


def test_chunks_are_windows_that_overlap_and_keep_the_text():
    text = "\n".join(f"w{i}," for i in range(1, 251))
    chunks = chunk_text(text, words=100, overlap=20)
    assert [c.split()[0] for c in chunks] == ["w1,", "w81,", "w161,"]
    assert [len(c.split()) for c in chunks] == [100, 100, 90]
    assert chunks[0].split()[-20:] == chunks[1].split()[:20]  # the overlap
    assert "\n" in chunks[0] and chunks[0] in text  # the original text, not re-spaced
    assert chunk_text("   ", 100, 20) == []
    assert chunk_text("short text", 100, 20) == ["short text"]


@pytest.mark.parametrize("text, entity, found", [
    ("The patient called twice.", "PATIENT", True),
    ("Three patients waited.", "PATIENT", True),
    ("An outpatient clinic.", "PATIENT", False),
    ("Her medical records are on file.", "MEDICAL_RECORD", True),
    ("The MEDICAL_RECORD table.", "MEDICAL_RECORD", True),
    ("Book appointments online.", "APPOINTMENT", True),
    ("Be patient with them.", "APPOINTMENT", False),
])
def test_entities_are_found_by_name_in_words_and_plural(text, entity, found):
    assert bool(entity_patterns(DIAGRAM)[entity].search(text)) == found


def test_chunks_attach_to_the_entities_they_mention_and_contexts_get_the_best(tmp_path):
    (tmp_path / "a.md").write_text("A patient may move an appointment. Appointments last fifteen minutes.",
                                   encoding="utf-8")
    (tmp_path / "b.txt").write_text("Medical records are kept for ten years for every patient.", encoding="utf-8")
    (tmp_path / "c.txt").write_text("The car park opens at eight.", encoding="utf-8")
    docs = Documents.load(tmp_path, ["*.md", "*.txt"], DIAGRAM, words=50, overlap=10)
    assert [c.id for c in docs.chunks] == ["a.md#0", "b.txt#0", "c.txt#0"]
    assert dict(docs.chunks[0].mentions) == {"APPOINTMENT": 2, "PATIENT": 1}
    assert docs.summary() == {"chunks": 3, "sources": 3, "unattached": 1,
                              "by_entity": {"APPOINTMENT": 1, "MEDICAL_RECORD": 1, "PATIENT": 2}}
    assert [c.id for c in docs.for_context(("PATIENT", "MEDICAL_RECORD"), k=1)] == ["b.txt#0"]
    assert [c.id for c in docs.for_context(("PATIENT",), k=2)] == ["a.md#0", "b.txt#0"]
    assert docs.for_context(("DOCTOR",)) == []


def test_pdf_documents_are_read(tmp_path):
    make_pdf(tmp_path / "guide.pdf", ["Every patient gets a reminder", "the day before an appointment."])
    docs = Documents.load(tmp_path, ["guide.pdf"], DIAGRAM)
    assert "reminder" in docs.chunks[0].text
    assert set(docs.chunks[0].entities) == {"PATIENT", "APPOINTMENT"}


def test_a_broken_pdf_is_named(tmp_path):
    from janus_core.sdk.errors import JanusError

    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4\nthis is not a pdf")
    with pytest.raises(JanusError, match=r"bad\.pdf"):
        Documents.load(tmp_path, ["bad.pdf"], DIAGRAM)


def test_documents_that_name_nothing_are_located_in_setup_yaml(tmp_path):
    spec = tmp_path / "clinic"
    shutil.copytree(SAMPLES / "clinic", spec)
    setup = (spec / "setup.yaml").read_text(encoding="utf-8")
    setup = setup.replace("  - documents/*.txt", "  - documents/*.txt\n  - handbook/*.md\n  - diagram.mermaid")
    (spec / "setup.yaml").write_text(setup, encoding="utf-8")
    line = setup.splitlines().index("  - handbook/*.md") + 1
    with pytest.raises(SpecError) as exc:
        load_spec(spec)
    shown = [str(p) for p in exc.value.problems]
    assert any(f"setup.yaml:{line}:5: documents: 'handbook/*.md' names no file" in s for s in shown), shown
    assert any(f"setup.yaml:{line + 1}:5: documents:" in s and "not a document" in s for s in shown), shown


def test_seed_prompts_carry_chunks_and_records_name_them(cli, tmp_path):
    def reply(body):
        return json.dumps({"turns": [{"user": "Can I move my appointment to Friday?",
                                      "assistant": "Yes, free of charge up to 24 hours before the slot."}]})

    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", reply) as server:
        result = cli("generate", SAMPLES / "clinic", "--backend", "openai", "--option",
                     f"base_url={server.base_url}", "--d-factor", "0", "--max-seeds", "3", "--no-filters",
                     "--concurrency", "1", "--out", out, "-q", env={"OPENAI_API_KEY": "k-0123456789"})
        prompts = [b["messages"][-1]["content"] for b in server.requests]
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    assert len(records) == 3
    for record, prompt in zip(records, prompts, strict=True):
        chunks = record["walk"]["chunks"]
        assert chunks and all(c.startswith("documents/") for c in chunks)
        for chunk in chunks:
            assert f"[{chunk}]" in prompt
        assert "Ground the facts in this material" in prompt
    # the first context is RECEPTIONIST books APPOINTMENT: the chunk that mentions both most
    assert "fifteen minutes" in prompts[0]


def test_changed_documents_do_not_continue_an_old_run(cli, tmp_path):
    spec = tmp_path / "clinic"
    shutil.copytree(SAMPLES / "clinic", spec)

    def reply(body):
        return json.dumps({"turns": [{"user": "Hello there, I need a slot.",
                                      "assistant": "Monday at nine is free."}]})

    out = tmp_path / "o.jsonl"
    args = ["--backend", "openai", "--d-factor", "0", "--max-seeds", "1", "--no-filters", "--out", out, "-q"]
    with ProviderServer("openai", reply) as server:
        first = cli("generate", spec, *args, "--option", f"base_url={server.base_url}",
                    env={"OPENAI_API_KEY": "k-0123456789"})
        assert first.exit_code == 0, first.output
        doc = spec / "documents" / "opening-hours.txt"
        doc.write_text(doc.read_text(encoding="utf-8").replace("18:00", "19:00"), encoding="utf-8")
        second = cli("generate", spec, *args, "--option", f"base_url={server.base_url}",
                     env={"OPENAI_API_KEY": "k-0123456789"})
    assert second.exit_code != 0
    assert "different spec" in second.output


def test_validate_summarises_the_documents(cli):
    result = cli("validate", SAMPLES / "clinic")
    assert result.exit_code == 0, result.output
    assert "documents: 3 chunks from 2 files;" in result.output
    assert "chunks per entity: APPOINTMENT 2, DOCTOR 3" in result.output


def test_a_folder_names_its_documents_and_hidden_files_are_skipped(tmp_path):
    docs = tmp_path / "docs"
    (docs / "more").mkdir(parents=True)
    (docs / "a.md").write_text("A patient may move an appointment.", encoding="utf-8")
    (docs / "more" / "b.txt").write_text("Every patient has a medical record.", encoding="utf-8")
    (docs / ".DS_Store").write_bytes(b"\x00\x01")
    (docs / "notes.csv").write_text("x,y", encoding="utf-8")
    loaded = Documents.load(tmp_path, ["docs"], DIAGRAM)
    assert [c.id for c in loaded.chunks] == ["docs/a.md#0", "docs/more/b.txt#0"]
    from janus_core.sdk.errors import JanusError

    with pytest.raises(JanusError, match=r"notes\.csv: documents must be"):  # a glob still names what it finds
        Documents.load(tmp_path, ["docs/*"], DIAGRAM)
    assert [c.id for c in Documents.load(tmp_path, ["docs/*.md"], DIAGRAM).chunks] == ["docs/a.md#0"]


# --- what documents may expand to -------------------------------------------------------------------

def test_a_small_pdf_that_expands_is_refused_by_validate_quickly_and_in_bounded_memory(tmp_path):
    """26 KB: twelve pages sharing one compressed stream of 7 MB (the old reader took minutes and GBs)."""
    import resource
    import subprocess
    import sys

    spec = tmp_path / "clinic"
    shutil.copytree(SAMPLES / "clinic", spec)
    pdf = spec / "documents" / "handbook.pdf"
    size = shared_stream_pdf(pdf, pages=12, lines=80_000)
    assert pdf.stat().st_size < 30_000 and size > 6_500_000
    setup = (spec / "setup.yaml").read_text(encoding="utf-8")
    (spec / "setup.yaml").write_text(setup.replace("  - documents/*.txt", "  - documents/*.txt\n  - documents/*.pdf"),
                                     encoding="utf-8")

    def cap_memory() -> None:
        limit = 1_500_000_000
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    result = subprocess.run([sys.executable, "-m", "janus_core.cli", "validate", str(spec)], capture_output=True,
                            text=True, timeout=120, preexec_fn=cap_memory)
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"handbook\.pdf: page 1 draws [\d,]{9} bytes of content, over the 2,000,000 one page may draw",
                     result.stderr), result.stderr
    assert "Traceback" not in result.stderr


def test_pdf_reading_stops_at_the_first_bound_and_names_the_page(tmp_path):
    from janus_core.plan.documents import DocumentLimits
    from janus_core.sdk.errors import JanusError

    # every page under the page bound, the document over the text bound: stopped at the page that passes it
    shared_stream_pdf(tmp_path / "long.pdf", pages=12, lines=400)  # about 32,000 characters a page
    with pytest.raises(JanusError, match=r"long\.pdf: page 4: the text passes 100,000 characters"):
        Documents.load(tmp_path, ["long.pdf"], DIAGRAM, limits=DocumentLimits(characters=100_000))
    # a stream that pages share counts for each page that draws it
    with pytest.raises(JanusError, match=r"long\.pdf: pages 1 to 3 draw [\d,]{7} bytes of content, over the 100,000"):
        Documents.load(tmp_path, ["long.pdf"], DIAGRAM, limits=DocumentLimits(pdf_content_bytes=100_000))
    with pytest.raises(JanusError, match=r"long\.pdf: page 1 draws \d\d,\d\d\d bytes of content, over the 10,000"):
        Documents.load(tmp_path, ["long.pdf"], DIAGRAM, limits=DocumentLimits(page_content_bytes=10_000))
    # a stream that decompresses past pypdf's (lowered) limit
    with pytest.raises(JanusError, match=r"long\.pdf: page 1: a stream expands past 5,000 bytes"):
        Documents.load(tmp_path, ["long.pdf"], DIAGRAM, limits=DocumentLimits(stream_bytes=5_000))
    # the time one document may take (a deadline already past: stopped at the first operator)
    with pytest.raises(JanusError, match=r"long\.pdf: page 1: reading the document took over -1 s"):
        Documents.load(tmp_path, ["long.pdf"], DIAGRAM, limits=DocumentLimits(seconds=-1))
    # within the bounds it reads
    assert len(Documents.load(tmp_path, ["long.pdf"], DIAGRAM, words=2000, overlap=0).chunks) > 12


def test_text_and_chunks_are_bounded_per_document_and_in_all(tmp_path):
    from janus_core.plan.documents import DocumentLimits
    from janus_core.sdk.errors import JanusError

    (tmp_path / "a.md").write_text("A patient may move an appointment. " * 100, encoding="utf-8")  # 3,500
    (tmp_path / "b.md").write_text("Every patient has a medical record. " * 100, encoding="utf-8")  # 3,600
    with pytest.raises(JanusError, match=r"a\.md: more than 3,000 characters, the most Janus reads from one"):
        Documents.load(tmp_path, ["*.md"], DIAGRAM, limits=DocumentLimits(characters=3_000))
    with pytest.raises(JanusError, match=r"b\.md: the documents' text passes 5,000 characters in all"):
        Documents.load(tmp_path, ["*.md"], DIAGRAM, limits=DocumentLimits(total_characters=5_000))
    with pytest.raises(JanusError, match=r"b\.md: the documents make more than 30 chunks in all"):
        Documents.load(tmp_path, ["*.md"], DIAGRAM, words=20, overlap=0, limits=DocumentLimits(chunks=30))
    assert len(Documents.load(tmp_path, ["*.md"], DIAGRAM, words=20, overlap=0).chunks) == 60
