"""Golden transcript of the TCP venue protocol: every request type and its answers.

Each request line is sent alone, followed by a PING, and the lines received up to the PONG
are recorded under it. Compared with tests/golden/data/venue_tcp_transcript.txt;
`UPDATE_GOLDEN=1` rewrites it for review.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from tests.fixtures.venue import InProcessVenue

pytestmark = [pytest.mark.golden, pytest.mark.asyncio]

GOLDEN = Path(__file__).parent / "data" / "venue_tcp_transcript.txt"

SCRIPT = [
    b'{"type":"HELLO","session":"golden"}',
    b'{"type":"SUBSCRIBE","symbols":["BTC"],"depth":5}',
    b'{"type":"NEW","orderId":"s1","accountId":"maker","symbol":"BTC","side":"SELL","qty":5,"price":65010}',
    b'{"type":"NEW","orderId":"s2","accountId":"maker","symbol":"BTC","side":"SELL","orderType":"LIMIT","qty":5,"price":65020,"timeInForce":"GTD","expireAtNs":1700000000500000000}',
    b'{"type":"NEW","orderId":"b1","accountId":"taker","symbol":"BTC","side":"BUY","qty":7,"price":65020,"timeInForce":"IOC"}',
    b'{"type":"NEW","orderId":"b1","accountId":"taker","symbol":"BTC","side":"BUY","qty":7,"price":65020}',
    b'{"type":"REPLACE","orderId":"s2","symbol":"BTC","qty":4,"price":65020}',
    b'{"type":"REPLACE","orderId":"s2","symbol":"BTC","qty":4,"price":65003}',
    b'{"type":"NEW","orderId":"p1","accountId":"maker","symbol":"BTC","side":"BUY","qty":1,"price":65003,"postOnly":true}',
    b'{"type":"NEW","orderId":"m1","accountId":"taker","symbol":"BTC","side":"BUY","orderType":"MARKET","qty":1}',
    b'{"type":"NEW","orderId":"x1","accountId":"taker","symbol":"7203","side":"BUY","qty":150,"price":2800}',
    b'{"type":"NEW","orderId":"b2","accountId":"taker","symbol":"BTC","side":"BUY","qty":3,"price":64990}',
    b'{"type":"CANCEL","orderId":"b2","symbol":"BTC"}',
    b'{"type":"CANCEL","orderId":"b2","symbol":"BTC"}',
    b'{"type":"STATUS","orderId":"s1","symbol":"BTC"}',
    b'{"type":"STATUS","orderId":"ghost","symbol":"BTC"}',
    b'{"type":"REFERENCE","symbol":"BTC","price":65100}',
    b'{"type":"BOOK","symbol":"BTC","depth":3}',
    b'{"type":"NEW","orderId":"bad","symbol":"BTC","side":"BUY","price":1}',
    b'{"type":"FROB"}',
    b"garbage",
]


async def test_venue_tcp_transcript_matches_golden(venue_server: InProcessVenue) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", venue_server.port)
    transcript: list[str] = []
    for request in SCRIPT:
        writer.write(request + b"\n" + b'{"type":"PING"}\n')
        await writer.drain()
        transcript.append(">> " + request.decode())
        while True:
            line = (await asyncio.wait_for(reader.readline(), 5)).rstrip(b"\n")
            if line == b'{"type":"PONG"}':
                break
            transcript.append("<< " + line.decode())
        venue_server.clock.advance(50_000_000)  # 50 ms between requests
    writer.close()
    await writer.wait_closed()
    text = "\n".join(transcript) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text)
    assert GOLDEN.exists(), "run with UPDATE_GOLDEN=1 to create the golden file"
    assert text == GOLDEN.read_text()
