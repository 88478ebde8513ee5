#!/usr/bin/env python3
"""check_eml.py FILE APP_URL PAGE SUBJECT

Parse the .eml file FILE with Python's email package, strictly (any defect
is an error), and check that it is a complete account email:

- From, To, Subject, Date (RFC 5322 date), Message-ID (<left@right>) and
  MIME-Version: 1.0; a header block of ASCII only, so a non-ASCII Subject
  travels as RFC 2047 encoded words and decodes to SUBJECT;
- multipart/alternative with a text/plain and then a text/html part, each
  with charset utf-8;
- the link APP_URL/PAGE?token=T in the text, and as an href in the HTML,
  with T 43 URL-safe base64 characters.

Prints T. Exits non-zero with the reason on the first failed check.
"""
import email
import email.policy
import email.utils
import re
import sys


def fail(why):
    sys.exit(f"check_eml: {why}")


def main():
    if len(sys.argv) != 5:
        fail("usage: check_eml.py FILE APP_URL PAGE SUBJECT")
    path, app_url, page, subject = sys.argv[1:]
    with open(path, "rb") as f:
        raw = f.read()
    head = raw.split(b"\r\n\r\n", 1)[0]
    try:
        head.decode("ascii")
    except UnicodeDecodeError:
        fail("the header block is not ASCII")
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.strict)
    except Exception as e:  # a defect, under the strict policy
        fail(f"does not parse: {e}")
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
        if msg[name] is None:
            fail(f"no {name} header")
    if str(msg["MIME-Version"]) != "1.0":
        fail("MIME-Version is not 1.0")
    if email.utils.parsedate_to_datetime(str(msg["Date"])) is None:
        fail("Date does not parse")
    if not re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", str(msg["Message-ID"])):
        fail(f"Message-ID {msg['Message-ID']!r} is not <left@right>")
    if str(msg["Subject"]) != subject:
        fail(f"Subject {str(msg['Subject'])!r} is not {subject!r}")
    if msg.get_content_type() != "multipart/alternative":
        fail(f"the message is {msg.get_content_type()}, not multipart/alternative")
    parts = list(msg.iter_parts())
    if [p.get_content_type() for p in parts] != ["text/plain", "text/html"]:
        fail(f"parts are {[p.get_content_type() for p in parts]}")
    for p in parts:
        if p.get_content_charset() != "utf-8":
            fail(f"{p.get_content_type()} has charset {p.get_content_charset()}")
    text, html = parts[0].get_content(), parts[1].get_content()
    m = re.search(re.escape(f"{app_url}/{page}?token=") + r"([A-Za-z0-9_-]{43})(?![A-Za-z0-9_=-])",
                  text)
    if not m:
        fail(f"no {app_url}/{page}?token=... link in the text part")
    if f'href="{app_url}/{page}?token={m.group(1)}"' not in html:
        fail("the HTML part does not link to the same URL")
    print(m.group(1))


main()
