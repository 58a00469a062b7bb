"""One masker for personal data: screens and logs choose the width, the rule for short values is the same."""

from __future__ import annotations

from portal.masking import LOG_STARS, mask_address, mask_email, mask_id_number, mask_phone


def test_screens_keep_the_shape_and_logs_hide_the_length():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138 1234 5678") == "+86*******5678"
    assert mask_phone("+86 138 1234 5678", stars=LOG_STARS) == "+86****5678"
    assert mask_id_number("11010519491231002X") == "110***********002X"


def test_a_short_value_keeps_only_its_ends_whatever_the_width():
    assert mask_phone("12345") == "1***5"
    assert mask_phone("12345", stars=LOG_STARS) == "1****5"
    assert mask_phone("12") == "**"
    assert mask_address("长春市南关区人民大街") == "长春市南关区****"
    assert mask_address("南关区") == "南****区"


def test_email_keeps_the_chosen_start_of_the_name_and_the_domain():
    assert mask_email("zhangsan@example.com") == "z***@example.com"
    assert mask_email("zhangsan@example.com", keep=2) == "zh***@example.com"
    assert mask_email("z@example.com") == "z***@example.com"
    assert mask_email("not an address") == "***"
