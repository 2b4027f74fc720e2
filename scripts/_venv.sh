# Sourced by the other scripts: make and enter the project's virtualenv in .venv.
# On a fresh Debian, `python3 -m venv` needs the python3-venv package; as root we add it.
if [ ! -x .venv/bin/python ]; then
  if ! python3 -m venv .venv 2>/dev/null; then
    rm -rf .venv
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq python3-venv
      python3 -m venv .venv
    else
      echo "python3 -m venv failed: install Debian's python3-venv package (sudo apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
