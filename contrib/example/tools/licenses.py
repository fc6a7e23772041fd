"""License check: every installed distribution (or those named) must carry a
license this project accepts; copyleft or unknown licenses fail.

    python tools/licenses.py [--project pyproject.toml] [NAME...]
"""

import argparse
import importlib.metadata as md
import re
import sys
import tomllib

ALLOWED = {
    "mit": "MIT", "expat": "MIT", "bsd": "BSD", "new bsd": "BSD", "apache": "Apache",
    "apache 2.0": "Apache", "apache-2.0": "Apache", "apache software license": "Apache",
    "psf": "PSF", "python software foundation license": "PSF", "isc": "ISC",
    "mit license": "MIT", "bsd license": "BSD", "isc license (iscl)": "ISC",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
}
COPYLEFT = re.compile(r"\b(A?GPL|LGPL|GNU General|GNU Affero|GNU Lesser)", re.I)


def licenses_of(meta):
    found = []
    lic = (meta.get("License") or "").strip()
    if lic and lic.upper() != "UNKNOWN" and len(lic) < 80:
        found.append(lic)
    for c in meta.get_all("Classifier") or []:
        if c.startswith("License :: "):
            found.append(c.split(" :: ")[-1])
    return found


def verdict(licenses):
    if not licenses:
        return False, "no license metadata"
    for lic in licenses:
        if COPYLEFT.search(lic):
            return False, "copyleft: %s" % lic
    for lic in licenses:
        if lic.lower() in ALLOWED:
            return True, ALLOWED[lic.lower()]
    return False, "not on the allowed list: %s" % "; ".join(licenses)


def main(argv=None):
    p = argparse.ArgumentParser(prog="licenses")
    p.add_argument("--project", default="pyproject.toml")
    p.add_argument("names", nargs="*")
    a = p.parse_args(argv)
    bad = 0
    with open(a.project, "rb") as f:
        project = tomllib.load(f)["project"]
    ok, why = verdict([project.get("license", {}).get("text", "")])
    print("%-24s %-10s %s" % (project["name"], "ok" if ok else "REFUSED", why))
    bad += not ok
    wanted = {n.lower() for n in a.names}
    dists = sorted(md.distributions(), key=lambda d: d.metadata["Name"].lower())
    seen = set()
    for d in dists:
        name = d.metadata["Name"]
        if name.lower() in seen or (wanted and name.lower() not in wanted):
            continue
        seen.add(name.lower())
        ok, why = verdict(licenses_of(d.metadata))
        print("%-24s %-10s %s" % (name + " " + d.version, "ok" if ok else "REFUSED", why))
        bad += not ok
    for n in sorted(wanted - seen):
        print("%-24s %-10s not installed" % (n, "REFUSED"))
        bad += 1
    print("licenses: %d checked, %d refused" % (len(seen) + 1, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
