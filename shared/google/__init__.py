"""The Google client layer every function uses: OAuth, credentials per connection, APIs.

Heavy libraries (google-auth-oauthlib, googleapiclient, httplib2) are imported inside
the functions that use them, so a request that never talks to Google never pays for them.
"""
