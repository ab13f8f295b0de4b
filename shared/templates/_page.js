{#- The helpers every page's script shares (portal, booking, manage, respond): included inside the
    page's own <script nonce="…"> function, so they stay inline under its CSP and private to it. -#}
{% raw %}
  // ---- shared by the pages (_page.js) ------------------------------------------------------
  var $ = function (id) { return document.getElementById(id); };
  var TYPE_LABELS = { google_meet: "Google Meet video call", custom_video: "Video call", phone: "Phone call", in_person: "In person" };

  function setText(id, text) { $(id).textContent = text == null ? "" : String(text); }
  function show(id, visible) { $(id).hidden = !visible; }

  // A new element with these properties (className, type, href...) and this text: text, never HTML.
  function el(tag, props, text) {
    var node = Object.assign(document.createElement(tag), props);
    if (text != null) { node.textContent = String(text); }
    return node;
  }
  // The #meeting-link: opens in a new tab, which gets neither this page nor its address.
  function meetingLink(href, text) {
    return el("a", { href: href, target: "_blank", rel: "noopener noreferrer", id: "meeting-link" }, text);
  }
  // A link that may be opened: https only (and http where allowHttp), else null.
  function safeUrl(link, allowHttp) {
    try {
      var url = new URL(link);
      return url.protocol === "https:" || (allowHttp && url.protocol === "http:") ? url.href : null;
    } catch (ignored) { return null; }
  }

  // ---- the link's token ----------------------------------------------------------------------
  // From the URL fragment (which no request carries), then out of the address bar (and so out of
  // copy-paste, bookmarks and screen shares); kept for this tab only, so that a reload still works.
  function takeToken(storeKey) {
    var found = null;
    if (location.hash.length > 1) {
      found = new URLSearchParams(location.hash.slice(1)).get("token");
      history.replaceState(history.state, "", location.pathname + location.search);
    }
    try {
      if (found) { sessionStorage.setItem(storeKey, found); } else { found = sessionStorage.getItem(storeKey); }
    } catch (ignored) { /* storage disabled: the token lives in memory only */ }
    return found;
  }

  // ---- the API -------------------------------------------------------------------------------
  // call(method, url, body, headers) for this origin's JSON API, with the token (if any) as a bearer:
  // no cookies, no referrer, no cache. It never rejects; it gives { status (0: no answer), body (its
  // JSON, or null), headers, received (when the answer came, ms) }.
  function api(token) {
    return function call(method, url, body, headers) {
      var init = { method: method, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
                   headers: Object.assign({ "Accept": "application/json" },
                                          token ? { "Authorization": "Bearer " + token } : null, headers) };
      if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      return fetch(url, init).then(function (response) {
        var received = Date.now();
        return response.json().catch(function () { return null; }).then(function (data) {
          return { status: response.status, body: data, headers: response.headers, received: received };
        });
      }, function () { return { status: 0, body: null, headers: null, received: Date.now() }; });
    };
  }
  function errorOf(result) {
    return (result.body && result.body.error) || { code: "", message: "", details: {} };
  }

  // ---- the error card (#error in <main>) -----------------------------------------------------
  var retryAction = null;  // what its Try again button runs; none: no button
  function showError(title, message, hint, action) {
    setText("error-title", title);
    setText("error-message", message);
    setText("error-hint", hint);
    retryAction = action || null;
    show("retry", !!action);
    show("error", true);
    document.querySelector("main").setAttribute("aria-busy", "false");
  }
  // No answer, or a failing one (429, 5xx): the card, with Try again running retry.
  function unreachable(result, hint, retry) {
    showError("Cannot reach Convene right now",
              result.status === 0 ? "Check your internet connection." : "The service is busy or temporarily unavailable.",
              hint, retry);
  }
  // An error the page cannot get past: the card, these sections hidden, <main data-state="error" data-error=kind>.
  function halt(kind, title, message, hint, sections) {
    showError(title, message, hint, null);
    sections.forEach(function (id) { show(id, false); });
    var main = document.querySelector("main");
    main.dataset.state = "error";
    main.dataset.error = kind;
  }

  // ---- times ---------------------------------------------------------------------------------
  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (ignored) { return ""; }
  }
  function formatDuration(minutes) {
    var h = Math.floor(minutes / 60), m = minutes % 60;
    if (!h) { return m + (m === 1 ? " minute" : " minutes"); }
    return h + (h === 1 ? " hour" : " hours") + (m ? " " + m + " min" : "");
  }
{% endraw %}
