// The live cafe board (served as is by GET /board/:vendor_id; no build step).
// Draws one day's games × slots from the public catalog (GET /games/vendor/:id, then
// GET /getSlots/… per game), then follows each game's slot room on the realtime process (SPEC §9):
// slot_pending and slot_released carry the units left. A connection may join at most 50 rooms, so
// every 50 games get a connection of their own. Every (re)connection subscribes first and fetches
// after, so no change can fall between the picture and the first event. Names go in with
// textContent only.
(function () {
  'use strict';

  var ROOMS_PER_CONNECTION = 50;
  var WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
  var SEEN_EVENTS_KEPT = 2000;

  var root = document.getElementById('board');
  var vendorId = Number(root.dataset.vendorId);
  var date = root.dataset.date;
  var followsToday = root.dataset.followsToday === 'true';
  var timezone = root.dataset.timezone;
  var realtimeUrl = root.dataset.realtimeUrl;
  var grid = document.getElementById('grid');
  var message = document.getElementById('message');
  var statusBadge = document.getElementById('status');

  /** slot_id → { gameId, cell, left, available, canHold: true | false | null (unknown: it was full), lastEventAt } */
  var cells = new Map();
  var gameIds = [];
  var layout = '';
  var loaded = false;
  /** Events arrive at least once (the outbox relays again after a failure): the ids already applied. */
  var seenEvents = new Set();
  var seenOrder = [];
  var connections = [];
  var refreshing = null;
  var refreshAgain = false;
  var retryTimer = null;

  // ---- the picture --------------------------------------------------------------------------

  function showMessage(text) {
    message.textContent = text;
    message.hidden = !text;
  }

  function clock(time) {
    return time.slice(0, 5);
  }

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function paint(entry, changed) {
    entry.left.textContent = String(entry.available);
    // A slot that was full when read may be past or not: until the next read says, it shows as free.
    entry.cell.className = entry.available <= 0 ? 'full' : entry.canHold === false ? 'gone' : 'open';
    entry.cell.dataset.available = String(entry.available);
    if (changed) {
      entry.cell.classList.remove('changed');
      void entry.cell.offsetWidth; // restarts the highlight when one cell changes twice in a row
      entry.cell.classList.add('changed');
    }
  }

  /** What getSlots says about holding, units aside: is_available is false for full slots too. */
  function canHoldOf(slot) {
    if (slot.is_available) return true;
    return slot.available_slot > 0 ? false : null;
  }

  /** Rebuilds the table when the games or slots differ from what it shows; otherwise updates numbers. */
  function render(snapshot) {
    var games = snapshot.games;
    gameIds = games.map(function (game) { return game.game_id; });
    loaded = true;
    if (!snapshot.open) showMessage('Closed on this day.');
    else if (games.length === 0) showMessage('No games yet.');
    else showMessage('');

    var nextLayout = JSON.stringify(games.map(function (game) {
      return [game.game_id, game.game_name, game.total_slots, game.slots.map(function (slot) {
        return [slot.slot_id, slot.start_time, slot.end_time];
      })];
    }));
    if (nextLayout === layout) {
      games.forEach(function (game) {
        game.slots.forEach(function (slot) {
          var entry = cells.get(slot.slot_id);
          var changed = entry.available !== slot.available_slot;
          entry.available = slot.available_slot;
          entry.canHold = canHoldOf(slot);
          paint(entry, changed);
        });
      });
      return;
    }
    layout = nextLayout;
    var previous = cells;
    cells = new Map();

    var windows = new Map();
    games.forEach(function (game, column) {
      game.slots.forEach(function (slot) {
        var key = slot.start_time + '–' + slot.end_time;
        if (!windows.has(key)) windows.set(key, { start: slot.start_time, end: slot.end_time, byColumn: new Map() });
        windows.get(key).byColumn.set(column, slot);
      });
    });
    var rows = Array.from(windows.values()).sort(function (a, b) {
      return a.start < b.start ? -1 : a.start > b.start ? 1 : a.end < b.end ? -1 : a.end > b.end ? 1 : 0;
    });

    var head = document.createElement('tr');
    head.appendChild(element('th', 'Time'));
    games.forEach(function (game) {
      var th = element('th', game.game_name);
      th.dataset.gameId = String(game.game_id);
      th.scope = 'col';
      head.appendChild(th);
    });
    var body = document.createDocumentFragment();
    rows.forEach(function (row) {
      var tr = document.createElement('tr');
      var th = element('th', clock(row.start) + '–' + clock(row.end));
      th.scope = 'row';
      tr.appendChild(th);
      games.forEach(function (game, column) {
        var slot = row.byColumn.get(column);
        if (!slot) {
          tr.appendChild(element('td', '–', 'none'));
          return;
        }
        var cell = document.createElement('td');
        cell.dataset.slotId = String(slot.slot_id);
        cell.dataset.gameId = String(game.game_id);
        var left = element('span', '', 'left');
        cell.appendChild(left);
        cell.appendChild(element('span', '/' + game.total_slots, 'of'));
        var before = previous.get(slot.slot_id);
        var entry = {
          gameId: game.game_id, cell: cell, left: left, available: slot.available_slot, canHold: canHoldOf(slot),
          lastEventAt: before ? before.lastEventAt : '',
        };
        cells.set(slot.slot_id, entry);
        paint(entry, false);
        tr.appendChild(cell);
      });
      body.appendChild(tr);
    });
    grid.tHead.replaceChildren(head);
    grid.tBodies[0].replaceChildren(body);
    grid.hidden = rows.length === 0;
  }

  // ---- reading the catalog ------------------------------------------------------------------

  function getJson(path) {
    return fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        return { status: response.status, body: body };
      });
    });
  }

  function weekdayOf(day) {
    return WEEKDAYS[new Date(day + 'T00:00:00Z').getUTCDay()];
  }

  /** The day as the catalog tells it: the cafe's games, then each game's slots, read side by side. */
  async function fetchSnapshot() {
    var cafe = await getJson('/games/vendor/' + vendorId);
    if (cafe.status !== 200) throw new Error('the catalog answered ' + cafe.status);
    var games = cafe.body.games;
    var days = await Promise.all(games.map(function (game) {
      return getJson('/getSlots/vendor/' + vendorId + '/game/' + game.id + '/' + date);
    }));
    var shown = [];
    games.forEach(function (game, index) {
      var day = days[index];
      if (day.status === 404) return; // deleted since the list was read
      if (day.status !== 200) throw new Error('the catalog answered ' + day.status);
      var slots = day.body.slots.slice().sort(function (a, b) { return a.start_time < b.start_time ? -1 : a.start_time > b.start_time ? 1 : 0; });
      shown.push({ game_id: game.id, game_name: game.game_name, total_slots: game.total_slots, slots: slots });
    });
    // Every game of a cafe carries the cafe's opening days.
    var open = games.length === 0 || games[0].opening_days.indexOf(weekdayOf(date)) >= 0;
    return { open: open, games: shown };
  }

  // ---- the realtime connections -------------------------------------------------------------

  function updateStatus() {
    var state;
    if (connections.some(function (connection) { return connection.state === 'offline'; })) state = 'offline';
    else if (!loaded || connections.some(function (connection) { return connection.state !== 'live'; })) state = 'connecting';
    else if (!gameIds.every(function (id) { return connections.some(function (connection) { return connection.joined.has(id); }); })) state = 'connecting';
    else state = 'live';
    statusBadge.className = 'status ' + state;
    statusBadge.textContent = state;
    root.dataset.connections = String(connections.length);
  }

  /** One socket.io connection and the (at most 50) games whose rooms it joins. */
  function openConnection() {
    var connection = {
      games: new Set(),
      joined: new Set(),
      asking: new Set(),
      state: 'connecting',
      socket: io(realtimeUrl, {
        path: '/socket.io',
        forceNew: true, // a connection of its own, not one shared with the other 50s
        transports: ['websocket', 'polling'],
        tryAllTransports: true,
        reconnectionDelay: 500,
        reconnectionDelayMax: 3000,
      }),
    };
    var socket = connection.socket;
    socket.on('connect', function () {
      connection.state = 'live';
      connection.joined.clear();
      // Rooms of games gone from the cafe are not asked for again: the server's count starts anew.
      connection.games.forEach(function (id) { if (loaded && gameIds.indexOf(id) < 0) connection.games.delete(id); });
      updateStatus();
      // What happened while this connection was away is read again, after its rooms are joined.
      subscribe(connection).then(refresh);
    });
    socket.on('disconnect', function () {
      connection.state = 'offline';
      connection.joined.clear();
      updateStatus();
    });
    socket.on('connect_error', function () {
      connection.state = 'offline';
      updateStatus();
    });
    socket.io.on('reconnect_attempt', function () {
      connection.state = 'connecting';
      updateStatus();
    });
    socket.on('slot_pending', applySlotEvent);
    socket.on('slot_released', applySlotEvent);
    connections.push(connection);
    updateStatus();
    return connection;
  }

  /** Gives every game without a connection to one with room left, opening another when all are full. */
  function assignGames(ids) {
    ids.forEach(function (id) {
      if (connections.some(function (connection) { return connection.games.has(id); })) return;
      var connection = connections.find(function (candidate) { return candidate.games.size < ROOMS_PER_CONNECTION; }) || openConnection();
      connection.games.add(id);
    });
  }

  /** Joins the rooms of this connection's games it is not in yet; resolves to how many it joined. */
  function subscribe(connection) {
    var socket = connection.socket;
    if (!socket.connected) return Promise.resolve(0);
    var socketId = socket.id;
    var missing = Array.from(connection.games).filter(function (id) {
      return !connection.joined.has(id) && !connection.asking.has(id);
    });
    return Promise.all(missing.map(function (id) {
      connection.asking.add(id);
      return socket.timeout(5000).emitWithAck('subscribe_slots', { vendor_id: vendorId, game_id: id, date: date })
        .then(function (answer) {
          if (!answer || !answer.ok || socket.id !== socketId || !socket.connected) return 0;
          connection.joined.add(id);
          return 1;
        }, function () { return 0; /* the next reconnect or refresh asks again */ })
        .finally(function () { connection.asking.delete(id); });
    })).then(function (joined) {
      updateStatus();
      return joined.reduce(function (sum, one) { return sum + one; }, 0);
    });
  }

  function alreadySeen(eventId) {
    if (typeof eventId !== 'string') return false;
    if (seenEvents.has(eventId)) return true;
    seenEvents.add(eventId);
    seenOrder.push(eventId);
    if (seenOrder.length > SEEN_EVENTS_KEPT) seenEvents.delete(seenOrder.shift());
    return false;
  }

  function applySlotEvent(payload) {
    if (!payload || payload.date !== date || typeof payload.available_slot !== 'number') return;
    if (alreadySeen(payload.event_id)) return;
    if (refreshing) refreshAgain = true; // the read in flight may predate this change
    var entry = cells.get(payload.slot_id);
    if (!entry || entry.gameId !== payload.game_id) {
      refresh(); // a slot added since the last read
      return;
    }
    // available_slot is the count at the event's commit: an event older than one applied is stale.
    var occurredAt = typeof payload.occurred_at === 'string' ? payload.occurred_at : '';
    if (occurredAt && entry.lastEventAt && occurredAt < entry.lastEventAt) return;
    if (occurredAt) entry.lastEventAt = occurredAt;
    entry.available = payload.available_slot;
    paint(entry, true);
    if (entry.canHold === null && entry.available > 0) refresh(); // was full: learn whether it is past
  }

  // ---- keeping it current -------------------------------------------------------------------

  /** Reads the day, and again while events or new rooms arrived during a read. One at a time. */
  function refresh() {
    if (refreshing) {
      refreshAgain = true;
      return refreshing;
    }
    clearTimeout(retryTimer);
    refreshing = (async function () {
      try {
        do {
          refreshAgain = false;
          render(await fetchSnapshot());
          assignGames(gameIds);
          var joined = await Promise.all(connections.map(subscribe));
          if (joined.some(function (count) { return count > 0; })) refreshAgain = true;
        } while (refreshAgain);
      } catch (error) {
        showMessage('Could not load the board (' + error.message + '); retrying…');
        retryTimer = setTimeout(refresh, 3000);
      } finally {
        refreshing = null;
        updateStatus();
      }
    })();
    return refreshing;
  }

  function cafeToday() {
    var parts = {};
    new Intl.DateTimeFormat('en-US', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' })
      .formatToParts(new Date())
      .forEach(function (part) { parts[part.type] = part.value; });
    return parts.year + '-' + parts.month + '-' + parts.day;
  }

  function everyMinute() {
    // A board left on "today" moves on at the cafe's midnight.
    var today = '';
    try { today = cafeToday(); } catch (error) { /* a zone this browser does not know: stay on the day shown */ }
    if (followsToday && today > date) {
      window.location.replace('/board/' + vendorId);
      return;
    }
    // Slots start as the day goes on; a phone that slept may have missed events.
    refresh();
  }

  openConnection();
  setInterval(everyMinute, 60000);
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible') refresh();
  });
  refresh();
})();
