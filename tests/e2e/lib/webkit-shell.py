#!/usr/bin/python3
"""A minimal WebKitGTK browser for WebKitWebDriver, in place of Debian's MiniBrowser.

WebKitWebDriver starts the browser named in `webkitgtk:browserOptions` and drives it through
WebKit's automation session, so any program built on the WebKitGTK library can be driven; the
engine is the same `libwebkit2gtk-4.1` MiniBrowser uses. MiniBrowser cannot be used by the
tests for one reason: in automation mode it always uses an ephemeral (private) session, and
WebKit never writes an ephemeral page's console to stdout, so a test could not see the page's
console errors and CSP violations (WebKitGTK 2.50 offers no WebDriver BiDi and no log endpoint
either). This shell differs only in what a test needs to observe:

- a persistent (not ephemeral) session in a throw-away directory, with
  `enable-write-console-messages-to-stdout`, so every console message, uncaught error and CSP
  violation appears on stdout (`CONSOLE ERROR …`, `CONSOLE SECURITY ERROR …`);
- downloads saved, without asking, into the folder given by `--downloads`.

Usage (by WebKitWebDriver): webkit-shell.py --automation --data DIR --downloads DIR
"""

import argparse
import os
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("WebKit2", "4.1")
from gi.repository import Gtk, WebKit2  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--automation", action="store_true")
    parser.add_argument("--data", required=True)
    parser.add_argument("--downloads", required=True)
    args, _ = parser.parse_known_args()

    manager = WebKit2.WebsiteDataManager(
        base_data_directory=os.path.join(args.data, "data"),
        base_cache_directory=os.path.join(args.data, "cache"),
    )
    context = WebKit2.WebContext(website_data_manager=manager)
    context.set_automation_allowed(True)
    settings = WebKit2.Settings(
        enable_write_console_messages_to_stdout=True,
        enable_developer_extras=True,
        javascript_can_open_windows_automatically=True,
    )

    def decide_destination(download, suggested):
        path = os.path.join(args.downloads, os.path.basename(suggested))
        download.set_allow_overwrite(True)
        download.set_destination("file://" + path)
        return True

    def download_finished(download):
        print(f"SHELL DOWNLOAD FINISHED {download.get_destination()}", flush=True)

    def download_started(_context, download):
        download.connect("decide-destination", decide_destination)
        download.connect("finished", download_finished)

    context.connect("download-started", download_started)

    windows = []

    def new_view(related=None):
        if related is None:
            view = WebKit2.WebView(
                web_context=context, settings=settings, is_controlled_by_automation=True
            )
        else:
            view = WebKit2.WebView(related_view=related, settings=settings)
        window = Gtk.Window()
        window.set_default_size(1280, 900)
        window.add(view)
        window.show_all()
        windows.append(window)

        def closed(_view):
            window.destroy()
            windows.remove(window)

        view.connect("close", closed)
        # window.open(): a popup in a window of its own, as a browser would.
        view.connect("create", lambda v, _action: new_view(v))
        return view

    def automation_started(_context, session):
        info = WebKit2.ApplicationInfo()
        info.set_name("unattended-webkit-shell")
        info.set_version(
            WebKit2.get_major_version(), WebKit2.get_minor_version(), WebKit2.get_micro_version()
        )
        session.set_application_info(info)
        session.connect("create-web-view", lambda _s: new_view())

    context.connect("automation-started", automation_started)
    sys.stdout.reconfigure(line_buffering=True)
    Gtk.main()


if __name__ == "__main__":
    main()
