#!/usr/bin/env bash
# Rewrites the PublicAPI.Unshipped*.txt files of the shipped libraries from their current public API.
#
# Usage: bash scripts/update-public-api.sh
#   Run it after a change that adds, removes or changes public API on purpose, then review `git diff` of the
#   PublicAPI.Unshipped*.txt files: that diff is the API change. (Without it the build fails with RS0016 for API
#   that is not declared and RS0017 for declared API that is gone.) Two builds of the libraries: one to two
#   minutes on a quiet machine.
#   CONFIGURATION=Debug picks another configuration (default Release).
#
# The libraries are the projects under src/ that have a PublicAPI.Shipped.txt (Microsoft.CodeAnalysis.PublicApiAnalyzers,
# see src/Directory.Build.props). For each, the script
#   1. empties its PublicAPI.Unshipped*.txt (keeping `#nullable enable`), so every public symbol not in
#      PublicAPI.Shipped*.txt is undeclared;
#   2. builds the libraries with RS0016/RS0017 left as warnings (every other warning still fails the build) and
#      collects the analyzer's own names for the symbols from those warnings: an RS0016 symbol is unshipped API, an
#      RS0017 symbol is shipped API that is gone and is written as `*REMOVED*symbol`;
#   3. writes them sorted, split by the top folder of the declaring source file so that each file stays short enough
#      to review: src/X/Routing/*.cs -> src/X/PublicAPI.Unshipped.Routing.txt, files in the project folder ->
#      src/X/PublicAPI.Unshipped.txt (declarations in generated code go with the rest of their type);
#   4. builds again as usual to check the files now match.
# On any failure the previous files are put back.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
configuration=${CONFIGURATION:-Release}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_CLI_UI_LANGUAGE=en-US

projects=()
for shipped in src/*/PublicAPI.Shipped.txt; do
  dir=$(dirname "$shipped")
  projects+=("$dir/$(basename "$dir").csproj")
done
if [ ${#projects[@]} -eq 0 ]; then
  echo "No src/*/PublicAPI.Shipped.txt: no library tracks its public API." >&2
  exit 1
fi

work=$(mktemp -d)
restore=1
cleanup() {
  if [ "$restore" = 1 ]; then
    for project in "${projects[@]}"; do
      dir=$(dirname "$project")
      rm -f "$dir"/PublicAPI.Unshipped*.txt
      cp "$work/backup/$dir"/PublicAPI.Unshipped*.txt "$dir"/ 2>/dev/null || true
    done
    echo "Public API files left as they were." >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One solution filter, so that the libraries build once each, in parallel where they can.
{
  printf '{ "solution": { "path": "%s", "projects": [' "$root/LlmRouter.sln"
  sep=""
  for project in "${projects[@]}"; do
    printf '%s "%s"' "$sep" "${project//\//\\\\}"
    sep=","
  done
  printf ' ] } }\n'
} > "$work/libraries.slnf"

for project in "${projects[@]}"; do
  dir=$(dirname "$project")
  mkdir -p "$work/backup/$dir"
  cp "$dir"/PublicAPI.Unshipped*.txt "$work/backup/$dir"/ 2>/dev/null || true
  rm -f "$dir"/PublicAPI.Unshipped*.txt
  printf '#nullable enable\n' > "$dir/PublicAPI.Unshipped.txt"
done

echo "Building the libraries to collect their public API (${projects[*]})..."
# Writing the files above makes every library compile again (they are inputs of its compilation), so the analyzer
# reports on all of them; the check below would catch one that did not.
if ! dotnet build "$work/libraries.slnf" -c "$configuration" -p:PreferredUILang=en-US \
    -p:WarningsNotAsErrors=RS0016%3BRS0017 -clp:ErrorsOnly -fl "-flp:LogFile=$work/build.log;Verbosity=minimal"; then
  echo "The build failed for another reason than the public API files; fix that first." >&2
  exit 1
fi

# "path(line,col): warning RS0016: Symbol 'NAME' is not part of the declared public API (link) [project]"
{ grep -E ': warning RS001[67]: ' "$work/build.log" || true; } | sort -u | awk '
  # The name without modifiers, parameters or value: "static A.B.C(int x) -> void" -> "A.B.C".
  function strip(name) {
    sub(/^\*REMOVED\*/, "", name)
    while (match(name, /^(static|override|abstract|virtual|const|readonly|sealed|~) ?/)) {
      name = substr(name, RLENGTH + 1)
    }
    sub(/(\(| ->| =).*$/, "", name)
    return name
  }
  function unreadable() { print "cannot read: " $0 > "/dev/stderr"; failed = 1 }
  BEGIN { quote = sprintf("%c", 39) }
  {
    line = $0
    if (!match(line, / \[[^]]*\.csproj\]$/)) { unreadable(); next }
    project = substr(line, RSTART + 2, RLENGTH - 3)
    line = substr(line, 1, RSTART - 1)
    sub(/[^\/]*$/, "", project)
    match(line, /: warning RS001[67]: /)
    removed = substr(line, RSTART + 10, 6) == "RS0017"
    file = substr(line, 1, RSTART - 1)
    message = substr(line, RSTART + RLENGTH)
    if (!sub(/\([0-9]+,[0-9]+(,[0-9]+,[0-9]+)?\)$/, "", file)) file = ""
    first = index(message, quote)
    last = 0
    for (i = length(message); i > first; i--) if (substr(message, i, 1) == quote) { last = i; break }
    if (first == 0 || last == 0) { unreadable(); next }
    symbol = substr(message, first + 1, last - first - 1)
    area = "?"
    if (removed) {
      # Reported on the line of PublicAPI.Shipped[.Area].txt that names it.
      area = file
      sub(/^.*\//, "", area)
      if (!sub(/^PublicAPI\.Shipped\./, "", area)) area = ""
      sub(/\.?txt$/, "", area)
      symbol = "*REMOVED*" symbol
    } else if (file != "" && index(file, project) == 1) {
      relative = substr(file, length(project) + 1)
      if (relative !~ /^(obj|bin)\//) area = (index(relative, "/") ? substr(relative, 1, index(relative, "/") - 1) : "")
    }
    key = project SUBSEP symbol
    if (key in seen) next
    seen[key] = 1
    count++
    projects[count] = project; symbols[count] = symbol; areas[count] = area
    if (area == "?") next
    # Every enclosing name (type, namespace) records the folder of this entry, or "ambiguous" once two differ.
    name = strip(symbol)
    while (name != "") {
      k = project SUBSEP name
      if (!(k in folder)) folder[k] = area
      else if (folder[k] != area) folder[k] = SUBSEP
      if (!sub(/\.[^.]*$/, "", name)) break
    }
  }
  END {
    if (failed) exit 1
    for (i = 1; i <= count; i++) {
      area = areas[i]
      if (area == "?") {
        # Declared in generated code (obj/): the folder of the rest of its type, else the project folder.
        area = ""
        name = strip(symbols[i])
        while (name != "") {
          k = projects[i] SUBSEP name
          if (k in folder) { if (folder[k] != SUBSEP) area = folder[k]; break }
          if (!sub(/\.[^.]*$/, "", name)) break
        }
      }
      print projects[i] "PublicAPI.Unshipped" (area == "" ? "" : "." area) ".txt" "\t" symbols[i]
    }
  }' > "$work/entries.tsv"

cut -f1 "$work/entries.tsv" | sort -u | while IFS= read -r target; do
  {
    printf '#nullable enable\n'
    awk -F'\t' -v target="$target" '$1 == target { print substr($0, length($1) + 2) }' "$work/entries.tsv" | LC_ALL=C sort -u
  } > "$target"
done

echo "Checking that the libraries build with the new files..."
if ! dotnet build "$work/libraries.slnf" -c "$configuration" -p:PreferredUILang=en-US -clp:ErrorsOnly; then
  echo "The rewritten files do not satisfy the analyzer (errors above)." >&2
  exit 1
fi

restore=0
echo "Public API files:"
wc -l src/*/PublicAPI.*.txt | sed 's/^/  /'
git --no-pager diff --stat -- 'src/*/PublicAPI.*.txt' || true
