"""What a station's run did: the counters a lane keeps and the one set of fields its summary line shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from station.exit_codes import StopReason


@dataclass(slots=True)
class Summary:
    """Counters of one station's run; `reason` is why it ended (`StopReason`), `failure` a failed station's
    reason (group mode)."""

    reason: StopReason = StopReason.FINISHED
    published: int = 0
    acknowledged: int = 0
    failed: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_acked_line: int = 0
    last_acked_seq: int | None = None
    passes: int = 0
    reconnects: int = 0
    lateness_max: float = 0.0
    duration_s: float = 0.0
    failure: str | None = None

    @property
    def inflight(self) -> int:
        """Published, neither acknowledged nor failed yet (the summary's `unacknowledged`)."""
        return self.published - self.acknowledged - self.failed

    @property
    def unacknowledged(self) -> int:
        return self.inflight

    @property
    def rate(self) -> float:
        return self.acknowledged / self.duration_s if self.duration_s > 0 else 0.0

    def fields(self) -> dict[str, Any]:
        """The summary line's fields, in their documented order."""
        return dict(reason=self.reason, published=self.published, acknowledged=self.acknowledged,
                    failed=self.failed, unacknowledged=self.inflight, first_seq=self.first_seq,
                    last_seq=self.last_seq, checkpoint_line=self.last_acked_line,
                    checkpoint_seq=self.last_acked_seq, passes=self.passes, reconnects=self.reconnects,
                    **({"error": self.failure} if self.failure else {}))
