"""No full ID or mobile number reaches a log line, wherever it came from."""

from __future__ import annotations

import logging

from gridgov.core.logging import MaskPersonalData, mask_text
from gridgov.core.validators import id_check_digit

FIRST17 = "34040419800101123"
ID = FIRST17 + id_check_digit(FIRST17)


def test_mask_text_masks_ids_and_mobiles_but_not_other_numbers():
    text = f"GET /registry/residents/?q={ID} phone=13812345678 order 20261124 code 340404004001001"
    masked = mask_text(text)
    assert ID not in masked and "13812345678" not in masked
    assert "340404********" in masked and "138****5678" in masked
    assert "20261124" in masked and "340404004001001" in masked


def test_filter_rewrites_formatted_records(caplog):
    logger = logging.getLogger("gridgov.test.masking")
    logger.addFilter(MaskPersonalData())
    try:
        with caplog.at_level(logging.INFO, logger="gridgov.test.masking"):
            logger.info("search %s by %s", ID, "13812345678")
    finally:
        logger.filters.clear()
    assert ID not in caplog.text and "13812345678" not in caplog.text
    assert "138****5678" in caplog.text


def test_request_lines_of_the_dev_server_are_masked(settings):
    handler = logging.getLogger("django.server").handlers
    assert handler, "django.server logs through gridgov's handler"
    assert any(isinstance(f, MaskPersonalData) for h in handler for f in h.filters)
