"""A log filter that masks ID and mobile numbers wherever they appear (a searched URL, an error).

Search by full ID or phone number puts the number in a query string; web servers and Django log
request lines. Every handler of gridgov's logging configuration runs this filter, so no full
number reaches a log file.
"""

from __future__ import annotations

import logging
import re

from gridgov.core.privacy import mask_id_number, mask_phone

# Not preceded or followed by another digit: an 18-character ID number, then a mainland mobile number.
ID_NUMBER = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])")
MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")


def mask_text(text: str) -> str:
    text = ID_NUMBER.sub(lambda m: mask_id_number(m.group()), text)
    return MOBILE.sub(lambda m: mask_phone(m.group()), text)


class MaskPersonalData(logging.Filter):
    """Rewrites the record's message with ID and mobile numbers masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True
