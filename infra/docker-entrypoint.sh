#!/bin/sh
# Entrypoint of the LAPOR image: refuse to run a database command without LAPOR_DATABASE_URL.
# Outside a container `lapor` falls back to an embedded PostgreSQL (pgserver) under the data
# dir; inside one that would be a private database lost with the container, so it is an error.
set -e

if [ -z "${LAPOR_DATABASE_URL:-}" ] && [ "${1:-}" = "lapor" ]; then
    case "${2:-}" in
        "" | schema | --help | -h) ;;
        *)
            for arg in "$@"; do
                if [ "$arg" = "--help" ]; then exec "$@"; fi
            done
            echo "error: LAPOR_DATABASE_URL is not set. In a container LAPOR needs an external" >&2
            echo "PostgreSQL, e.g. LAPOR_DATABASE_URL=postgresql://user:password@host:5432/lapor" >&2
            exit 64
            ;;
    esac
fi

exec "$@"
