// Every GraphQL document the board sends; all of it is the public API of schema/schema.graphql.

const IDEA_ITEM = `fragment IdeaItem on Idea {
  id title status tags createdAt viewerVote viewerFollows followerCount
  votes { up down }
  score { bradleyTerry bradleyTerryLow bradleyTerryHigh comparisons stale }
  commentCount: comments(first: 0) { totalCount }
}`;

const USER_ERRORS = "userErrors { field message code retryAfterSeconds }";

export const BOARD = `query EmbedBoard($workspace: String!, $slug: String!, $first: Int!, $after: String,
    $sort: IdeaSort!, $statuses: [IdeaStatus!], $tag: String, $search: String) {
  viewer { role user { id name } unreadNotificationCount }
  board(workspace: $workspace, slug: $slug) {
    id name description archived tags
    statusLabels { status label }
    campaigns(first: 0) { totalCount }
    ideas(first: $first, after: $after, sort: $sort, statuses: $statuses, tag: $tag, search: $search) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { ...IdeaItem } }
    }
  }
}
${IDEA_ITEM}`;

const COMMENT = `fragment EmbedComment on Comment {
  id body official accepted createdAt editedAt deletedAt
  author { id name }
  reactions { reaction count viewerReacted }
}`;

export const IDEA = `query EmbedIdea($id: ID!) {
  idea(id: $id) {
    ...IdeaItem body mergedInto { id title }
    statusHistory { from to note at actor { name } }
    comments(first: 30) {
      totalCount
      edges { node { ...EmbedComment replies(first: 10) { edges { node { ...EmbedComment } } } } }
    }
  }
}
${IDEA_ITEM}
${COMMENT}`;

export const SIMILAR = `query EmbedSimilar($boardId: ID!, $text: String!) {
  similarIdeas(boardId: $boardId, text: $text, first: 5) { similarity idea { id title status votes { up } } }
}`;

export const SUBMIT = `mutation EmbedSubmit($input: SubmitIdeaInput!) {
  submitIdea(input: $input) {
    idea { ...IdeaItem }
    similarIdeas { similarity idea { id title status } }
    ${USER_ERRORS}
  }
}
${IDEA_ITEM}`;

export const VOTE = `mutation EmbedVote($input: VoteInput!) {
  vote(input: $input) { idea { ...IdeaItem } ${USER_ERRORS} }
}
${IDEA_ITEM}`;

export const FOLLOW = `mutation EmbedFollow($input: FollowIdeaInput!) {
  followIdea(input: $input) { idea { id viewerFollows followerCount } ${USER_ERRORS} }
}`;

export const COMMENT_ADD = `mutation EmbedComment($input: AddCommentInput!) {
  addComment(input: $input) { comment { id } ${USER_ERRORS} }
}`;

export const REACT = `mutation EmbedReact($input: ReactToCommentInput!) {
  reactToComment(input: $input) { comment { id reactions { reaction count viewerReacted } } ${USER_ERRORS} }
}`;

export const UNREAD = "query EmbedUnread { viewer { role unreadNotificationCount } }";

export const NOTIFICATIONS = `query EmbedNotifications($first: Int!, $after: String) {
  viewer {
    unreadNotificationCount
    notifications(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges { node { id kind message createdAt read idea { id title board { id name } } } }
    }
  }
}`;

export const MARK_READ = `mutation EmbedMarkRead($input: MarkNotificationsReadInput!) {
  markNotificationsRead(input: $input) { unreadCount ${USER_ERRORS} }
}`;

const MATCHUP_IDEA = "id title body status votes { up down }";

export const MATCHUP = `query EmbedMatchup($boardId: ID!, $campaignId: ID) {
  pairwiseMatchup(boardId: $boardId, campaignId: $campaignId) { left { ${MATCHUP_IDEA} } right { ${MATCHUP_IDEA} } }
}`;

export const COMPARE = `mutation EmbedCompare($input: CompareIdeasInput!) {
  compareIdeas(input: $input) {
    next { left { ${MATCHUP_IDEA} } right { ${MATCHUP_IDEA} } }
    ${USER_ERRORS}
  }
}`;

const CAMPAIGN_DATES = "phase submissionStartsAt submissionEndsAt votingStartsAt votingEndsAt";
const ENTRY = "id title status cost viewerVote votes { up down }";

export const CAMPAIGNS = `query EmbedCampaigns($workspace: String!, $slug: String!) {
  board(workspace: $workspace, slug: $slug) {
    campaigns(first: 20) { edges { node { id title ballot maxChoices budget currency ${CAMPAIGN_DATES} } } }
  }
}`;

export const CAMPAIGN = `query EmbedCampaign($id: ID!, $after: String) {
  node(id: $id) {
    ... on Campaign {
      id title description ballot maxChoices budget currency winnerCount ${CAMPAIGN_DATES}
      ideas(first: 100, after: $after, sort: NEWEST) { pageInfo { hasNextPage endCursor } edges { node { ${ENTRY} } } }
      finalists { ${ENTRY} }
      viewerBallot { id }
      results { rank support winner cost idea { id title } }
    }
  }
}`;

// The moderator view's (moderate.js): moderators and admins only; the API answers FORBIDDEN to anyone else.
const MOD_IDEA = "id title status votes { up down }";
const MOD_SUBJECT = `__typename
  ... on Idea { id title body moderationState author { name } }
  ... on Comment { id body moderationState author { name } idea { id title } }`;

export const MODERATION = `query EmbedModeration($workspace: String!, $slug: String!) {
  board(workspace: $workspace, slug: $slug) {
    id
    duplicateClusters(first: 20) { totalCount edges { node { cohesion ideas { ${MOD_IDEA} } } } }
    merged: ideas(first: 20, sort: NEWEST, statuses: [MERGED]) {
      totalCount edges { node { id title mergedInto { id title } } }
    }
    moderationQueue(first: 30) {
      totalCount
      edges { node { state reportCount reports { reason note } subject { ${MOD_SUBJECT} } } }
    }
  }
}`;

export const BALLOT = `mutation EmbedBallot($input: CastBallotInput!) {
  castBallot(input: $input) { campaign { id viewerBallot { id } } ${USER_ERRORS} }
}`;

export const MERGE = `mutation EmbedMerge($input: MergeIdeasInput!) {
  mergeIdeas(input: $input) { source { id title } target { id title } ${USER_ERRORS} }
}`;

export const UNMERGE = `mutation EmbedUnmerge($input: UnmergeIdeaInput!) {
  unmergeIdea(input: $input) { source { id title status } ${USER_ERRORS} }
}`;

export const CHANGE_STATUS = `mutation EmbedChangeStatus($input: ChangeIdeaStatusInput!) {
  changeIdeaStatus(input: $input) { idea { ...IdeaItem } ${USER_ERRORS} }
}
${IDEA_ITEM}`;

export const MODERATE = `mutation EmbedModerate($input: ModerateContentInput!) {
  moderateContent(input: $input) { subject { ${MOD_SUBJECT} } ${USER_ERRORS} }
}`;

export const BOARD_ACTIVITY = `subscription EmbedBoardActivity($boardId: ID!) {
  boardActivity(boardId: $boardId) {
    __typename at
    ... on IdeaSubmittedEvent { idea { id title status tags author { id } } }
    ... on IdeaStatusChangedEvent { change { from to note at idea { id title } } }
    ... on IdeasMergedEvent { source { id title } target { id title } }
    ... on CampaignPhaseChangedEvent { campaign { id title } from to }
  }
}`;

export const IDEA_STATUS = `subscription EmbedIdeaStatus($ideaId: ID!) {
  ideaStatusChanged(ideaId: $ideaId) { from to note at actor { name } idea { id } }
}`;
