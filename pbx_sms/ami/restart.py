"""Recognising an Asterisk restart from the Uniqueids a read=call,cdr user sees (pure).

Such a user never receives FullyBooted (manager.c sends it to ``system`` readers only).  A Uniqueid is
``[systemname-]epoch.sequence``; the sequence counts every channel since Asterisk started, so a new
channel numbered far below those seen before means Asterisk started again and its old calls are gone.
A restart also closes the AMI connection: only the first new channel after a lost connection is
judged, so channels merely announced out of order on a live connection never look like one.
"""

from __future__ import annotations

# Channels are numbered as they are created and announced nearly in that order; a Newchannel this
# far below the highest number seen cannot be a late announcement.  Early in Asterisk's life (few
# channels yet) a smaller fall counts too, when it lands in the lower half of the numbers seen.
RESTART_SEQUENCE_DROP = 50
EARLY_RESTART_SEQUENCE_DROP = 8


def uniqueid_sequence(uniqueid: str) -> int | None:
    """The sequence number of a Uniqueid, or None when it has none."""
    _, dot, sequence = uniqueid.rpartition(".")
    # isdigit() alone also passes "²" (int() refuses it) and digit strings too long for int().
    usable = dot and sequence.isascii() and sequence.isdigit() and len(sequence) <= 18
    return int(sequence) if usable else None


class RestartDetector:
    def __init__(self) -> None:
        self.highest_sequence: int | None = None
        self._after_lost_connection = False

    def connection_lost(self) -> None:
        self._after_lost_connection = True

    def new_channel(self, uniqueid: str) -> bool:
        """Note a new channel; True when its number says Asterisk restarted while disconnected."""
        sequence = uniqueid_sequence(uniqueid)
        if sequence is None:
            return False
        judged, self._after_lost_connection = self._after_lost_connection, False
        highest = self.highest_sequence
        if judged and highest is not None and _restarted(sequence, highest):
            self.highest_sequence = sequence
            return True
        self.highest_sequence = sequence if highest is None else max(highest, sequence)
        return False


def _restarted(sequence: int, highest: int) -> bool:
    fall = highest - sequence
    return fall >= RESTART_SEQUENCE_DROP or (fall >= EARLY_RESTART_SEQUENCE_DROP and sequence <= highest // 2)
