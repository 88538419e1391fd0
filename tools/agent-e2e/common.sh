# Shared set-up of the agent harness scripts (sourced): a throw-away project with a billing file,
# difflore initialised with one rule governing it, and the scripted fake Chat Completions server.

# new_project RUN: RUN/proj as a git checkout of github.com/acme/shop with src/billing.rs.
new_project() {
  mkdir -p "$1/proj/src" "$1/home" "$1/payloads"
  cd "$1/proj"
  git init -q
  git remote add origin git@github.com:acme/shop.git
  printf 'pub fn total(items: &[f64]) -> f64 {\n    items.iter().sum()\n}\n' > src/billing.rs
}

# init_difflore BIN RUN [--enforce]: HOME and DIFFLORE_HOME under RUN, the Money rule added.
init_difflore() {
  export HOME="$2/home" DIFFLORE_HOME="$2/home/.difflore"
  "$1" init > /dev/null
  "$1" memory add --repo github.com/acme/shop --title Money \
    --statement "Use Money instead of f64 for amounts." --glob "src/*.rs" ${3:-} > /dev/null
}

# start_fake RUN: serves RUN/script.json; the port ends up in RUN/port; stopped on exit.
start_fake() {
  python3 "$here/fake_openai_chat.py" --script "$1/script.json" --project "$1/proj" \
    --log-dir "$1/log" --port-file "$1/port" --max-seconds 120 &
  fake=$!
  trap 'kill $fake 2>/dev/null || true' EXIT
  for _ in $(seq 50); do [ -s "$1/port" ] && break; sleep 0.1; done
}
