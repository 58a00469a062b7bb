"""Citizen ID numbers (GB 11643-1999) and the masks."""

from __future__ import annotations

from datetime import date

import pytest

from portal.idnumber import InvalidIdNumber, validate_id_number
from portal.masking import mask_id_number, mask_name, mask_phone

TODAY = date(2024, 6, 1)


def with_check(first17: str) -> str:
    """Append the ISO 7064 MOD 11-2 check character, computed here independently of the module."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    return first17 + "10X98765432"[total % 11]


def reason(value: str) -> str:
    with pytest.raises(InvalidIdNumber) as info:
        validate_id_number(value, today=TODAY)
    assert info.value.message_zh and info.value.message_en
    return info.value.message_zh


def test_published_sample_is_valid():
    assert validate_id_number("11010519491231002X", today=TODAY) == "11010519491231002X"


def test_published_sample_born_before_1900_is_refused():
    # GB 11643-1999's other sample has a correct check digit but a birth year (1880) the portal refuses.
    assert with_check("44052418800101001") == "440524188001010014"
    assert "出生日期" in reason("440524188001010014")


@pytest.mark.parametrize(
    "first17", ["22010219900307123", "22240119850101001", "22060219700228000", "65010120000229456"]
)
def test_computed_samples_are_valid(first17):
    value = with_check(first17)
    assert validate_id_number(value, today=TODAY) == value


def test_normalises_lowercase_x_spaces_and_full_width_digits():
    assert validate_id_number(" 11010519491231002x ", today=TODAY) == "11010519491231002X"
    assert validate_id_number("１１０１０５１９４９１２３１００２Ｘ", today=TODAY) == "11010519491231002X"
    assert validate_id_number("110105 19491231 002X", today=TODAY) == "11010519491231002X"


def test_wrong_check_digit():
    for last in "0123456789":
        assert "校验位" in reason("11010519491231002" + last)
    good = with_check("22010219900307123")
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert "校验位" in reason(wrong)


@pytest.mark.parametrize("value", ["", "1101051949123100", "11010519491231002XX", "110105194912310"])
def test_length(value):
    assert "18位" in reason(value)


@pytest.mark.parametrize("value", ["1101051949123100AX", "11010519X91231002X", "11010519491231002Y"])
def test_characters(value):
    assert "数字" in reason(value)


def test_region():
    assert "地区" in reason(with_check("00010519491231002"))
    assert "地区" in reason(with_check("19010519491231002"))


@pytest.mark.parametrize(
    "birth",
    ["19490230", "19491301", "18991231", "20240602", "20300101", "00000000"],
)
def test_birth_date(birth):
    assert "出生日期" in reason(with_check("110105" + birth + "002"))


def test_birth_date_today_is_accepted():
    value = with_check("110105" + TODAY.strftime("%Y%m%d") + "002")
    assert validate_id_number(value, today=TODAY) == value


def test_non_text():
    with pytest.raises(InvalidIdNumber):
        validate_id_number(110105194912310020)  # type: ignore[arg-type]


def test_masks():
    assert mask_id_number("11010519491231002X") == "110***********002X"
    assert len(mask_id_number("11010519491231002X")) == 18
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("138-1234-5678") == "138****5678"
    assert mask_phone("12345") == "1***5"
    assert mask_name("张三") == "张*"
    assert mask_name("张三丰") == "张**"
    assert mask_name("欧阳娜娜") == "欧阳**"
    assert mask_name("欧阳") == "欧*"
    assert mask_name("张") == "*"
    assert mask_name(" ") == ""
