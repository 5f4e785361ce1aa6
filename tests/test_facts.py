"""Facts of a text (cleaner/facts.py): numbers and names, whatever the quote and dash styles."""

from __future__ import annotations

from collections import Counter

from cleaner.facts import fact_difference, facts


def test_quote_and_dash_styles_give_the_same_facts():
    curly = "“We won’t sell,” said O’Neil’s lawyer – Mr Smith — in the 2004‒2005 accounts of «Barclays»."
    plain = "\"We won't sell,\" said O'Neil's lawyer - Mr Smith - in the 2004 2005 accounts of \"Barclays\"."
    assert facts(curly) == facts(plain) == Counter({"O'Neil": 1, "Smith": 1, "#2004": 1, "#2005": 1, "Barclays": 1})


def test_sentence_openers_are_not_names_but_capitalised_words_elsewhere_are():
    found = facts("The bank rose. However, Lloyds fell. Analysts said The Times was wrong; It rained.")
    assert found == Counter({"Lloyds": 1, "Analysts": 1, "The": 1, "Times": 1})


def test_an_edited_copy_differs_by_fewer_facts_than_a_filled_template():
    story = facts("Shares in Barclays rose 3.2% to 145p on Tuesday after results.")
    edited = facts("Shares in Barclays rose 3.4% to 145p on Tuesday, after its results.")
    template = facts("Shares in Vodafone fell 1.8% to 98p on Friday after results.")
    assert fact_difference(story, edited) == 1 and fact_difference(story, template) >= 2
