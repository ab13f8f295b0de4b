{#- What the scheduling pages' scripts (booking, manage, respond) add to _page.js. -#}
{% raw %}
  // ---- shared by the scheduling pages (_scheduling.js) ---------------------------------------
  // Try again hides the error card, then runs what it was shown with.
  $("retry").addEventListener("click", function () {
    show("error", false);
    if (retryAction) { retryAction(); }
  });

  // ms as a date and time in the zone tz (empty: the browser's own); an ISO time (UTC) where the browser cannot.
  function formatIn(ms, tz, options) {
    try {
      return new Intl.DateTimeFormat(undefined, Object.assign({ timeZone: tz || undefined }, options)).format(new Date(ms));
    } catch (ignored) { return new Date(ms).toISOString(); }
  }
  function longWhen(startMs, endMs, tz) {
    var day = formatIn(startMs, tz, { weekday: "long", month: "long", day: "numeric", year: "numeric" });
    var from = formatIn(startMs, tz, { hour: "numeric", minute: "2-digit" });
    var to = formatIn(endMs, tz, { hour: "numeric", minute: "2-digit", timeZoneName: "short" });
    return day + ", " + from + " – " + to;
  }
{% endraw %}
