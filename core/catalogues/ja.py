"""Japanese (日本語): every key of :mod:`core.catalogues.en`, with the same placeholders.

Commands, options and the words typed after them (``/janken stats``, ``--size square``)
stay in ASCII, as typed; janken moves are shown in Japanese, and read in either language.
"""

from __future__ import annotations

from collections.abc import Mapping

MESSAGES: Mapping[str, str] = {
    # usage
    "usage_help": (
        "コマンド一覧:\n"
        "  /ask <質問>  AI に質問します。同じ会話の中で返信すると、それまでの文脈が引き継がれます\n"
        "  /draw [--size square|landscape|portrait] [--quality low|medium|high] <プロンプト>\n"
        "  /janken [グー|チョキ|パー|stats|top|quit|<キャラクターの説明>]\n"
        "  /usage  今日と今月の利用状況\n"
        "  /history [page <番号>|<番号>|clear]  これまでのコマンド\n"
        "  文字起こし  音声付きメッセージのメニューから（Slack と Discord）。コンソールでは /transcribe <ファイル>"
    ),
    "usage_ask": "使い方: /ask <質問>",
    "usage_draw": (
        "使い方: /draw [--size square|landscape|portrait|1024x1024|1536x1024|1024x1536] "
        "[--quality low|medium|high] <プロンプト>"
    ),
    "usage_janken": (
        "使い方: /janken [グー|チョキ|パー] | /janken stats | /janken top | /janken quit | "
        "/janken <キャラクターの説明（2 語以上、または日本語で 3 文字以上）>"
    ),
    "unknown_command": "{command} というコマンドはありません。/help をお試しください。",
    "too_long": "長すぎます（{length:,} 文字）。上限は {limit:,} 文字です。",
    "bad_size": (
        "サイズ {value!r} は指定できません。square、landscape、portrait、1024x1024、1536x1024、"
        "1024x1536 のいずれかを指定してください。"
    ),
    "bad_quality": "画質 {value!r} は指定できません。low、medium、high のいずれかを指定してください。",
    "unknown_janken": (
        "{word!r} はじゃんけんの手でもコマンドでもありません。使い方: /janken [グー|チョキ|パー] | "
        "/janken stats | /janken top | /janken quit | "
        "/janken <キャラクターの説明（2 語以上、または日本語で 3 文字以上）>"
    ),
    # AI failures
    "no_openai_key": "AI の回答は無効です。運用者が OPENAI_API_KEY を設定していません。",
    "content_blocked": "OpenAI の安全システムがこのリクエストを拒否しました。表現を変えてお試しください。",
    "rate_limited": "現在 OpenAI がボットへのリクエストを制限しています。1 分ほどしてからもう一度お試しください。",
    "ai_unavailable": "OpenAI が時間内に応答しないか、不具合が起きています。少し時間をおいてもう一度お試しください。",
    "no_moderation": (
        "ボットの AI サーバーはリクエストを確認できません。運用者が MODERATION=off を設定する必要があります。"
    ),
    "ai_auth": "ボットの OpenAI 認証情報が拒否されました。運用者が OPENAI_API_KEY を確認する必要があります。",
    "ai_failed": "OpenAI はこのリクエストを処理できませんでした（{detail}）。",
    "internal_error": "申し訳ありません。ボット側で問題が起きました。エラーは記録してあります。",
    "slack_failed": "Slack がボットのメッセージを受け付けませんでした（{error}）。",
    "slack_unreachable": "現在 Slack に接続できません。少し時間をおいてもう一度お試しください。",
    "slack_busy": (
        "Slack が混み合っていて、ここではボットのメッセージを受け付けていません。数分後にもう一度お試しください。"
    ),
    "store_unavailable": "ボットのストレージが一時的に使えません。少し時間をおいてもう一度お試しください。",
    # spending limits and where commands run
    "quota_exceeded": (
        "今日の {command} は上限の {limit} 回まで使いました。"
        "上限は {resets} UTC（あと {hours} 時間 {minutes:02d} 分）にリセットされます。"
    ),
    "draw_in_flight": "描いている途中の画像があります。完成するまでお待ちください。",
    "queued": "ボットが混み合っています。あなたの順番は {position} 番目です。順番が来しだい始めます。",
    "moderation_flagged": (
        "申し訳ありませんが、このリクエストはコンテンツのルールに反するためお手伝いできません。"
        "別の内容でお試しください。"
    ),
    "not_enabled_here": "ここではボットのコマンドは有効になっていません。",
    "roles_unavailable": (
        "現在、ここでボットを使える人を確認できません（Slack がユーザーグループを一覧できませんでした）。"
        "ワークスペースの管理者にお知らせください。"
    ),
    "image_too_large": "画像が大きすぎてここにはアップロードできず（上限 {limit}）、小さくすることもできませんでした。",
    # audio files (transcription)
    "audio_too_short": "録音が短すぎて文字起こしできません。",
    "audio_unreadable": (
        "この音声ファイルを読み取れませんでした。壊れているか、OpenAI が受け付けない形式でエンコードされている"
        "可能性があります。"
    ),
    "audio_unsupported": "このファイルは文字起こしできません。次のいずれかの形式の音声を送ってください: {formats}",
    "audio_too_large": "音声ファイルが大きすぎて文字起こしできません。上限は {limit} です。",
    "file_elsewhere": "文字起こしできるのは、このチャットにアップロードされたファイルだけです。他のサイトへのリンクは扱えません。",
    "download_failed": "今はファイルをダウンロードできませんでした。少し時間をおいてもう一度お試しください。",
    "no_audio": "このメッセージには文字起こしできる音声ファイルがありません。",
    "usage_transcribe": "使い方: /transcribe <音声ファイルのパス>",
    "no_such_file": "{path} に読み取れるファイルがありません。",
    "transcribing": "{name} を文字起こししています…",
    "transcript": "{name} の文字起こし:\n{text}",
    "transcript_empty": "{name} からは音声が聞き取れませんでした。",
    "command_transcribe": "文字起こし",
    # progress and captions
    "drawing": "{prompt} を描いています…",
    "drawing_opponent": "対戦相手を描いています: {description}…",
    "image_caption": "{prompt}",
    "image_saved": "🖼  {caption}: {path}",
    "progress": "⏳ {message}",
    # ASCII parentheses, as in English: mrkdwn's _italics_ fail when the underscore touches CJK
    "answer_truncated": "_(回答が長さの上限に達したため、ここで終わります。)_",
    "image_comment": "{caption}（{user} さんのリクエスト）",
    "question_from": "{user} さんの質問:",
    "thinking": "考えています…",
    "answer_interrupted": "(回答が途中で切れました: {reason})",  # in _italics_ too: ASCII parentheses
    "bot_stopping": "ボットを再起動しています。少ししてからもう一度質問してください。",
    "slack_cut": "Slack が更新を受け付けなくなりました。もう一度質問してください。",
    "discord_cut": "Discord が更新を受け付けなくなりました。もう一度質問してください。",
    # janken
    "builtin_opponent": "じゃんけんボット",
    "game_board": "{player} {player_hp_bar}  vs  {opponent} {opponent_hp_bar}",
    "game_prompt": "第 {round} ラウンド: グー、チョキ、パーから選んでください。",
    "move_rock": "✊ グー",
    "move_paper": "✋ パー",
    "move_scissors": "✌️ チョキ",
    "card_move_rock": "グー",
    "card_move_paper": "パー",
    "card_move_scissors": "チョキ",
    "card_round_win": "ラウンド {round}：あなたの勝ち！",
    "card_round_lose": "ラウンド {round}：あなたの負け",
    "card_round_draw": "ラウンド {round}：あいこ",
    "card_game_won": "あなたの勝利！",
    "card_game_lost": "あなたの敗北",
    "card_prompt": "ラウンド {round}：手を選んで",
    "card_alt": "{player} 対 {opponent}：HP {player_hp} 対 {opponent_hp}（最大 {max_hp}）",
    "card_saved": "🃏 バトルカード: {path}",
    "round_win": "あなたは{player_move}、{opponent}は{opponent_move}。このラウンドはあなたの勝ち！",
    "round_lose": "あなたは{player_move}、{opponent}は{opponent_move}。このラウンドは{opponent}の勝ち。",
    "round_draw": "どちらも{player_move}であいこ。HP はどちらも減りません。",
    "hp_line": "HP: あなた {player_hp}/{max_hp}、{opponent} {opponent_hp}/{max_hp}",
    "game_won": "🎉 {opponent}に勝ちました！ /janken でもう一度遊べます。",
    "game_lost": "💀 {opponent}の勝ちです。/janken でもう一度遊べます。",
    "game_quit": "{opponent}との対戦を終えました。",
    "play_again": "もう一度遊ぶ",
    "not_your_game": "これは他の人のゲームです。/janken で自分のゲームを始めてください。",
    "old_board": "この盤面は古いバージョンのボットのものです。/janken で新しいゲームを始めてください。",
    "stale_board": "この盤面は最新ではありません。今のゲームはこちらです。",
    "no_game": "進行中のゲームはありません。/janken で始めてください。",
    "stats": (
        "あなたの成績: ゲーム {games_won} 勝 {games_lost} 敗、ラウンド {wins} 勝 {losses} 敗 "
        "{draws} 引き分け、ラウンド連勝 {streak}（最高 {best_streak}）。"
    ),
    # Discord's command list
    "command_ask": "AI に質問します。回答に返信すると会話が続きます",
    "option_ask_question": "知りたいこと",
    "command_draw": "説明から画像を生成します",
    "option_draw_prompt": "描いてほしいもの",
    "option_draw_size": "画像の形",
    "option_draw_quality": "高いほど時間がかかります",
    "command_janken": "AI が描いた相手とじゃんけん勝負",
    "option_janken_move": "1 ラウンド勝負します（ゲームがなければ始まります）",
    "option_janken_character": "描いて対戦する相手の説明",
    "option_janken_action": "成績やランキングを見る、またはゲームをやめる",
    "command_usage": "今日と今月の利用状況と費用",
    "command_history": "これまでのコマンド（新しい順）",
    "option_history_page": "ページ（1 が最新）",
    "option_history_entry": "この番号の履歴をすべて表示",
    "option_history_action": "履歴を削除する（先に確認します）",
    "choice_square": "正方形",
    "choice_landscape": "横長",
    "choice_portrait": "縦長",
    "choice_low": "低",
    "choice_medium": "標準",
    "choice_high": "高",
    "choice_rock": "グー",
    "choice_paper": "パー",
    "choice_scissors": "チョキ",
    "choice_stats": "成績",
    "choice_quit": "やめる",
    "choice_top": "ランキング",
    "choice_clear": "履歴を削除",
    "choice_confirm": "はい、履歴を削除します",
    # /history、/usage とランキング（/janken top）
    "history_game_won": "勝ち（{player_hp} 対 {opponent_hp}）",
    "history_game_lost": "負け（{player_hp} 対 {opponent_hp}）",
    "usage_history": "使い方: /history | /history page <番号> | /history <番号> | /history clear",
    "history_empty": "履歴はまだありません。",
    "history_page": "あなたの履歴（新しい順、{page} / {pages} ページ）:",
    "history_line": "{number}. {when} /{command}：{prompt} → {answer}",
    "history_older": "古い履歴 ▶",
    "history_newer": "◀ 新しい履歴",
    "history_clear_button": "履歴を削除する",
    "button_typed": "［{label}］ {typed}",
    "not_your_history": "このボタンは他の人の履歴のものです。自分の履歴は /history で見られます。",
    "old_history_buttons": "この履歴のボタンは古いバージョンのボットのものです。/history で履歴を表示してください。",
    "history_no_entry": "履歴に {number} 番はありません。",
    "history_entry": (
        "#{number} · {when} · /{command} · {model}\n質問: {prompt}\n回答: {answer}\n"
        "トークン: 入力 {tokens_in}、出力 {tokens_out}、画像: {images}"
    ),
    "history_clear_ask": "履歴（{count} 件）をすべて削除しますか？ 元に戻せません。",
    "history_cleared": "履歴（{count} 件）を削除しました。",
    "usage_report": (
        "今日: /ask {asks} / {ask_quota} 回、画像 {images_today} / {image_quota} 枚。\n"
        "今月（{month}）: 入力 {tokens_in} トークン、出力 {tokens_out} トークン、画像 {images} 枚。\n{cost}"
    ),
    "quota_unlimited": "無制限",
    "usage_cost": "今月の概算費用: ${cost:.2f}",
    "usage_cost_unpriced": "費用の見積もりはありません: OPENAI_PRICES に {models} の価格がありません。",
    "top_won": "🏆 勝ったゲーム数",
    "top_streak": "🔥 ラウンド最多連勝",
    "top_row": "{rank}位 {name}: {value}",
    "top_empty": "このワークスペースではまだ誰もゲームに勝っていません。",
    "top_dm": (
        "ランキングはサーバー・ワークスペースごとなので、DM にはありません。"
        "サーバーで /janken top を使ってください。自分の成績は /janken stats で見られます。"
    ),
}
