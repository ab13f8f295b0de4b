{#- The free-time picker of the booking and manage pages (see _slots.css), and the Idempotency-Key of
    what they send. After _page.js and _scheduling.js. -#}
{% raw %}
  // ---- the free-time picker (_slots.js) ------------------------------------------------------
  var DAY_MS = 86400000;
  var WEEK = 7;

  // Dates as plain "YYYY-MM-DD" strings.
  function dateIn(ms, tz) {
    try {
      var parts = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" })
        .formatToParts(new Date(ms));
      var get = function (type) { return parts.filter(function (p) { return p.type === type; })[0].value; };
      return get("year") + "-" + get("month") + "-" + get("day");
    } catch (ignored) { return new Date(ms).toISOString().slice(0, 10); }
  }
  function utcNoon(date) { return Date.parse(date + "T12:00:00Z"); }
  function addDays(date, days) { return new Date(utcNoon(date) + days * DAY_MS).toISOString().slice(0, 10); }
  function daysBetween(a, b) { return Math.round((utcNoon(b) - utcNoon(a)) / DAY_MS); }
  function formatDate(date, options) {
    return new Intl.DateTimeFormat(undefined, Object.assign({ timeZone: "UTC" }, options)).format(new Date(utcNoon(date)));
  }

  // The API's free slots ({ date, start, end }) by their date.
  function byDate(slots) {
    var days = {};
    slots.forEach(function (slot) { (days[slot.date] = days[slot.date] || []).push(slot); });
    return days;
  }
  // The first date from..to for which count(date) > 0; else from.
  function firstFreeDay(from, to, count) {
    for (var d = from; daysBetween(d, to) >= 0; d = addDays(d, 1)) {
      if (count(d)) { return d; }
    }
    return from;
  }

  // #days: a button a date from..to, showing count(date) free times (none: disabled), calling onDay(date);
  // then the week's label, and Earlier / Later off where they would go before first or after last.
  function fillDays(from, to, count, onDay, first, last) {
    var days = $("days");
    days.replaceChildren();
    for (var d = from; daysBetween(d, to) >= 0; d = addDays(d, 1)) {
      days.append(dayButton(d, count(d), onDay));
    }
    setText("week-label", formatDate(from, { month: "short", day: "numeric" }) + " – " +
                          formatDate(to, { month: "short", day: "numeric" }));
    $("prev-week").disabled = daysBetween(first, from) <= 0;
    $("next-week").disabled = daysBetween(to, last) <= 0;
  }
  function dayButton(date, count, onDay) {
    var button = el("button", { type: "button", className: "day", disabled: !count });
    button.dataset.date = date;
    button.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-label", formatDate(date, { weekday: "long", month: "long", day: "numeric" }) +
                        (count ? ", " + count + (count === 1 ? " free time" : " free times") : ", no free times"));
    button.append(el("span", { className: "dow" }, formatDate(date, { weekday: "short" })),
                  el("span", { className: "num" }, formatDate(date, { day: "numeric" })),
                  el("span", { className: "count" }, count ? formatDate(date, { month: "short" }) : "—"));
    button.addEventListener("click", function () { onDay(date); });
    return button;
  }

  // #slots: a button a slot, showing its time in zone, calling onChoose(slot); decorate(button, slot, time)
  // may change it. A wall time offered twice (a fall-back day) shows its zone abbreviation to tell them apart.
  function fillSlots(slots, zone, onChoose, decorate) {
    var list = $("slots");
    list.replaceChildren();
    var times = slots.map(function (slot) { return slotTime(slot, zone, false); });
    slots.forEach(function (slot, index) {
      var twice = times.indexOf(times[index]) !== times.lastIndexOf(times[index]);
      var button = el("button", { type: "button", className: "slot" }, twice ? slotTime(slot, zone, true) : times[index]);
      button.dataset.start = slot.start;
      button.setAttribute("aria-pressed", "false");
      decorate(button, slot, times[index]);
      button.addEventListener("click", function () { onChoose(slot); });
      var li = el("li");
      li.append(button);
      list.append(li);
    });
  }
  function slotTime(slot, zone, withZone) {
    var options = { hour: "numeric", minute: "2-digit" };
    if (withZone) { options.timeZoneName = "short"; }
    return formatIn(Date.parse(slot.start), zone, options);
  }

  // aria-pressed on these buttons: "true" on those whose data-<key> is value, "false" on the others.
  function pressOnly(buttons, key, value) {
    Array.prototype.forEach.call(buttons, function (button) {
      button.setAttribute("aria-pressed", String(button.dataset[key] === value));
    });
  }

  // ---- the Idempotency-Key of a submission -----------------------------------------------------
  function newKey() {
    if (window.crypto && typeof crypto.randomUUID === "function") { return crypto.randomUUID(); }
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }
  // No answer (network), or one that says "try again": the same submission keeps its Idempotency-Key;
  // after any other answer the next press is a new one (a replayed refusal would hide it).
  function unsettled(result) { return result.status === 0 || result.status === 429 || result.status >= 500; }
{% endraw %}
