"""A robots.txt the politeness tests read, pure and through real Redis."""

ROBOTS = """# comment
User-agent: otherbot
Disallow: /

User-agent: *
Disallow: /private/
Allow: /private/open/
Disallow: /*.pdf$
Crawl-delay: 2
"""
