# Two commands matter: `make run` (the main job on sample media) and `make test` (the whole suite).
PY := .venv/bin/python
SAMPLES := .dflab-samples
REPORT := reports

.PHONY: setup run test bench clean apt postgres postgres-stop

setup: .venv/.installed

apt:
	@command -v ffmpeg >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq ffmpeg espeak-ng >/dev/null; }

.venv/.installed: requirements.txt requirements-nodeps.txt pyproject.toml | apt
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

run: setup
	$(PY) -m dflab.samples $(SAMPLES)
	.venv/bin/dflab scan $(SAMPLES)/* --report $(REPORT)

test: setup
	.venv/bin/python -m pytest -q tests

bench: setup
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf .venv $(SAMPLES) $(REPORT) build src/*.egg-info

# A local PostgreSQL server under .pg/ on port 54329 (prints DFLAB_DATABASE_URL=...); see docs/stores.md.
postgres:
	@scripts/postgres.sh start

postgres-stop:
	@scripts/postgres.sh stop
