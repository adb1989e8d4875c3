"""One headless Chromium for many pages, driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: JSON messages ended by NUL, commands on fd 3, events and replies on
fd 4), so each page costs a navigation, not a browser start."""
import base64
import fcntl
import json
import os
import select
import subprocess
import time
from pathlib import Path
from urllib.parse import unquote, urlparse


class BrowserError(Exception):
    pass


def _onto_3_and_4(commands, replies):
    """In the child: the pipe's ends as fds 3 and 4 (by way of fds above 10, in case one of
    them is 3 or 4 already)."""
    commands, replies = fcntl.fcntl(commands, fcntl.F_DUPFD, 10), fcntl.fcntl(replies, fcntl.F_DUPFD, 10)
    os.dup2(commands, 3)
    os.dup2(replies, 4)


class Browser:
    def __init__(self, exe, timeout=60):
        self.timeout = timeout
        to_child, self._out = os.pipe()
        self._in, from_child = os.pipe()
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--no-first-run", "--disable-extensions", "--remote-debugging-pipe", "about:blank"],
            pass_fds=(3, 4), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=lambda: _onto_3_and_4(to_child, from_child))
        os.close(to_child)
        os.close(from_child)
        self._buf, self._id, self.events = b"", 0, []
        try:
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.call("Target.attachToTarget", targetId=target,
                                     flatten=True)["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable", session=True)
        except BrowserError:
            self.close()
            raise

    def _read(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise BrowserError(f"Chromium did not answer within {self.timeout} s")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise BrowserError("Chromium exited")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, session=False, **params):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._out, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise BrowserError(f"{method}: {m['error'].get('message')}")
                return m.get("result", {})
            self.events.append(m)

    def wait_for(self, method):
        deadline = time.monotonic() + self.timeout
        while True:
            for i, m in enumerate(self.events):
                if m.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read(deadline))

    def load(self, page, shot, width, height, fragment=""):
        """Load a page (at #fragment) and screenshot it: (its console messages, the local files
        it asked for that do not exist). A page loaded just before at another fragment is not
        loaded again: load another page between them."""
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self.events.clear()
        self.call("Page.navigate", session=True, url=page.as_uri() + (f"#{fragment}" if fragment else ""))
        self.wait_for("Page.loadEventFired")
        # optimizeForSpeed: the PNG compressed less, which Chromium does faster (the 24 pages of
        # test_site.py: 10.8-11.0 s against 11.6 s); a Chromium that lacks it ignores it
        data = self.call("Page.captureScreenshot", session=True, format="png", optimizeForSpeed=True)["data"]
        Path(shot).write_bytes(base64.b64decode(data))
        console, missing = [], []
        for m in self.events:
            p, kind = m.get("params", {}), m.get("method")
            if kind == "Runtime.consoleAPICalled":
                console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
            elif kind == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                console.append(d.get("exception", {}).get("description", d.get("text", "")))
            elif kind == "Log.entryAdded":
                console.append(p["entry"]["text"])
            elif kind == "Network.requestWillBeSent":
                url = p["request"]["url"]
                if url.startswith("file:") and not Path(unquote(urlparse(url).path)).exists():
                    missing.append(url)
        return console, missing

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page loaded last."""
        r = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise BrowserError(f"{expression}: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    def close(self):
        try:
            self.call("Browser.close")
        except BrowserError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._in)
        os.close(self._out)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
