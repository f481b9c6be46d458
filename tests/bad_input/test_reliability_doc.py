"""docs/reliability.md holds exactly the table of the bad-input tests (no stale or missing case)."""

from bad_input._reliability_table import BEGIN, DOC, END, generated_block


def test_reliability_doc_lists_every_bad_input_case():
    text = DOC.read_text()
    assert BEGIN in text and END in text, f"{DOC} lacks the generated case table markers"
    current = text[text.index(BEGIN): text.index(END) + len(END)]
    assert current == generated_block(), (
        "docs/reliability.md's case table is out of date: run "
        "`python tests/bad_input/_reliability_table.py` and paste its output between the markers"
    )
